import { z } from 'zod';
import {
  EditMessageRequest,
  Emoji,
  has,
  mentionedUserIds,
  mentionsEveryone,
  Message,
  MessageHistoryQuery,
  MessagePage,
  Permission,
  ReactionList,
  ReactionUsers,
  ReactionUsersQuery,
  SendMessageRequest,
  type PermissionName,
} from '@concord/protocol';
import type { Logger } from 'pino';
import type { AccessService, ChannelAccess } from '../access/access';
import type { Database } from '../db/database';
import { moderatorNeedsTwoFactor } from '../guild/views';
import { HttpError } from '../http-errors';
import { NoContent, type RouteTable } from '../http/route-table';
import { clientIp, type ApiRateLimits } from '../rate-limits';
import type { ApiMetrics } from '../metrics';
import type { RealtimePublisher } from '../realtime';
import { ChannelEvents } from './events';
import { channelGone, messageGone, MessageStore, toMessage, type MessageRow } from './store';

export interface MessageDeps {
  db: Database;
  access: AccessService;
  realtime: RealtimePublisher;
  rateLimits: ApiRateLimits;
  /** Counts messages posted; absent in tests of the routes alone. */
  metrics?: ApiMetrics;
  logger: Pick<Logger, 'warn'>;
}

export interface MessageRoutes {
  /** Resolves once every real-time event of the routes so far has been published (shutdown, tests). */
  drain(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are opaque to clients: one that is not even a UUID names nothing, so it is a 404 like any unknown id. */
const PathId = z.string().meta({ format: 'uuid' });
const ChannelParams = z.object({ channelId: PathId });
const MessageParams = z.object({ channelId: PathId, messageId: PathId });
const ReactionParams = z.object({ channelId: PathId, messageId: PathId, emoji: z.string() });
const MemberReactionParams = ReactionParams.extend({ userId: PathId });

function pathId(id: string, gone: () => HttpError): string {
  if (!UUID.test(id)) throw gone();
  return id.toLowerCase();
}

const emojiOf = (raw: string): string => {
  const parsed = Emoji.safeParse(raw);
  if (!parsed.success) throw new HttpError('BAD_REQUEST', 'emoji: must be one unicode emoji or :name:');
  return parsed.data;
};

const TAG = 'messages';

/**
 * The text chat routes: messages of a channel (send, edit, delete, history), reactions and
 * typing. Every route first resolves the caller's permissions in the channel through the
 * AccessService: a channel the caller cannot view is unknown (404), a missing permission is 403.
 */
export function registerMessageRoutes(routes: RouteTable, deps: MessageDeps): MessageRoutes {
  const store = new MessageStore(deps.db);
  const events = new ChannelEvents(deps.access, deps.realtime, deps.logger);
  const limits = deps.rateLimits;

  /** The caller's access to a text channel they can view, holding every permission in `needs`. */
  async function textChannel(userId: string, rawChannelId: string, ...needs: PermissionName[]): Promise<ChannelAccess> {
    const channelId = pathId(rawChannelId, channelGone);
    const channel = await deps.access.channel(userId, channelId);
    if (!has(channel.permissions, Permission.VIEW_CHANNEL)) throw channelGone();
    if (channel.kind !== 'text') throw new HttpError('BAD_REQUEST', `a ${channel.kind} channel has no messages`);
    const missing = needs.filter((name) => !has(channel.permissions, Permission[name]));
    if (missing.length > 0) throw new HttpError('FORBIDDEN', `missing permission ${missing.join(', ')} in this channel`);
    return { ...channel, channelId };
  }

  const mentionEveryone = (channel: ChannelAccess, content: string) => mentionsEveryone(content) && has(channel.permissions, Permission.MENTION_EVERYONE);

  routes.add(
    {
      method: 'post',
      path: '/channels/:channelId/messages',
      summary: 'Send a message (201; a retry with the same nonce returns the first message with 200)',
      tag: TAG,
      params: ChannelParams,
      body: SendMessageRequest,
      response: Message,
      status: 201,
    },
    async ({ user, params, body, req, setStatus }) => {
      // The checks are independent round trips (Redis, the cache, PostgreSQL): made together, not in turn.
      // A retry of a send that went through must neither post twice nor count as a duplicate, so
      // with a nonce the duplicate check waits for the nonce lookup.
      const channelId = pathId(params.channelId, channelGone);
      const [, channel, sent] = await Promise.all([
        limits.enforce('message', { userId: user.userId, ip: clientIp(req) }),
        textChannel(user.userId, channelId, 'SEND_MESSAGES'),
        body.nonce === undefined ? limits.enforceNotDuplicate(channelId, user.userId, body.content).then(() => null) : store.findByNonce(user.userId, body.nonce),
      ]);
      const replay = async (row: MessageRow): Promise<Message> => {
        if (row.channel_id !== channel.channelId) throw new HttpError('CONFLICT', 'this nonce was already used for a message in another channel');
        setStatus(200);
        const reactions = await store.reactionsOf(channel.channelId, [row.id], user.userId);
        return toMessage(row, channel.serverId, reactions.get(row.id));
      };
      if (sent) return replay(sent);
      if (body.nonce !== undefined) await limits.enforceNotDuplicate(channel.channelId, user.userId, body.content);
      const { row, created } = await store.insert({
        channelId: channel.channelId,
        serverId: channel.serverId,
        authorId: user.userId,
        content: body.content,
        ...(body.replyToId !== undefined && { replyToId: body.replyToId }),
        mentionCandidates: mentionedUserIds(body.content),
        mentionEveryone: mentionEveryone(channel, body.content),
        ...(body.nonce !== undefined && { nonce: body.nonce }),
      });
      if (!created) return replay(row);
      const message = toMessage(row, channel.serverId);
      events.publish(channel.channelId, 'message:created', message);
      deps.metrics?.messageCreated();
      return message;
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/channels/:channelId/messages',
      summary: 'A page of history: latest first; `before` pages back, `after` alone pages forward (oldest first)',
      tag: TAG,
      params: ChannelParams,
      query: MessageHistoryQuery,
      response: MessagePage,
    },
    async ({ user, params, query }) => {
      const channel = await textChannel(user.userId, params.channelId, 'READ_MESSAGE_HISTORY');
      const rows = await store.page({ channelId: channel.channelId, limit: query.limit, ...(query.before && { before: query.before }), ...(query.after && { after: query.after }) });
      const reactions = await store.reactionsOf(
        channel.channelId,
        rows.map((row) => row.id),
        user.userId,
      );
      return { messages: rows.map((row) => toMessage(row, channel.serverId, reactions.get(row.id))) };
    },
  );

  routes.add(
    { method: 'get', path: '/channels/:channelId/messages/:messageId', summary: 'One message', tag: TAG, params: MessageParams, response: Message },
    async ({ user, params }) => {
      const channel = await textChannel(user.userId, params.channelId, 'READ_MESSAGE_HISTORY');
      const row = await store.get(channel.channelId, pathId(params.messageId, messageGone));
      if (!row) throw messageGone();
      const reactions = await store.reactionsOf(channel.channelId, [row.id], user.userId);
      return toMessage(row, channel.serverId, reactions.get(row.id));
    },
  );

  routes.add(
    {
      method: 'patch',
      path: '/channels/:channelId/messages/:messageId',
      summary: 'Edit an own message',
      tag: TAG,
      params: MessageParams,
      body: EditMessageRequest,
      response: Message,
    },
    async ({ user, params, body }) => {
      const channel = await textChannel(user.userId, params.channelId);
      const id = pathId(params.messageId, messageGone);
      const current = await store.get(channel.channelId, id);
      if (!current) throw messageGone();
      if (current.author_id !== user.userId) throw new HttpError('FORBIDDEN', 'only the author can edit a message');
      const row = await store.edit({
        channelId: channel.channelId,
        serverId: channel.serverId,
        id,
        authorId: user.userId,
        content: body.content,
        mentionCandidates: mentionedUserIds(body.content),
        mentionEveryone: mentionEveryone(channel, body.content),
      });
      if (!row) throw messageGone();
      const reactions = await store.reactionsOf(channel.channelId, [row.id], user.userId);
      const message = toMessage(row, channel.serverId, reactions.get(row.id));
      events.publish(channel.channelId, 'message:updated', {
        id: message.id,
        channelId: message.channelId,
        serverId: message.serverId,
        content: message.content,
        editedAt: message.editedAt!,
        mentions: message.mentions,
        mentionEveryone: message.mentionEveryone,
      });
      return message;
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/channels/:channelId/messages/:messageId',
      summary: "Delete an own message, or anyone's with MANAGE_MESSAGES",
      tag: TAG,
      params: MessageParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }): Promise<undefined> => {
      const channel = await textChannel(user.userId, params.channelId);
      const id = pathId(params.messageId, messageGone);
      const outcome = await store.delete(channel.channelId, id, user.userId, has(channel.permissions, Permission.MANAGE_MESSAGES));
      if (outcome === 'not-found') throw messageGone();
      if (outcome === 'forbidden') {
        if (has(channel.withheld, Permission.MANAGE_MESSAGES)) throw moderatorNeedsTwoFactor(Permission.MANAGE_MESSAGES);
        throw new HttpError('FORBIDDEN', "deleting another member's message needs MANAGE_MESSAGES");
      }
      events.publish(channel.channelId, 'message:deleted', { id, channelId: channel.channelId, serverId: channel.serverId });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/channels/:channelId/messages/:messageId/reactions',
      summary: 'Reactions of a message, per emoji',
      tag: TAG,
      params: MessageParams,
      response: ReactionList,
    },
    async ({ user, params }) => {
      const channel = await textChannel(user.userId, params.channelId, 'READ_MESSAGE_HISTORY');
      const id = pathId(params.messageId, messageGone);
      if (!(await store.get(channel.channelId, id))) throw messageGone();
      return { reactions: (await store.reactionsOf(channel.channelId, [id], user.userId)).get(id) ?? [] };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/channels/:channelId/messages/:messageId/reactions/:emoji',
      summary: 'Who reacted with an emoji (user ids ascending; `after` pages)',
      tag: TAG,
      params: ReactionParams,
      query: ReactionUsersQuery,
      response: ReactionUsers,
    },
    async ({ user, params, query }) => {
      const channel = await textChannel(user.userId, params.channelId, 'READ_MESSAGE_HISTORY');
      const id = pathId(params.messageId, messageGone);
      const emoji = emojiOf(params.emoji);
      if (!(await store.get(channel.channelId, id))) throw messageGone();
      return { userIds: await store.reactionUsers(channel.channelId, id, emoji, query.limit, query.after) };
    },
  );

  routes.add(
    {
      method: 'put',
      path: '/channels/:channelId/messages/:messageId/reactions/:emoji/@me',
      summary: 'React with an emoji (idempotent)',
      tag: TAG,
      params: ReactionParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params, req }): Promise<undefined> => {
      const channel = await textChannel(user.userId, params.channelId, 'READ_MESSAGE_HISTORY', 'ADD_REACTIONS');
      const id = pathId(params.messageId, messageGone);
      const emoji = emojiOf(params.emoji);
      await limits.enforce('reaction', { userId: user.userId, ip: clientIp(req) });
      const outcome = await store.addReaction(channel.channelId, id, user.userId, emoji);
      if (outcome === null) throw messageGone();
      if (outcome === 'too-many') throw new HttpError('BAD_REQUEST', 'this message has the most different reactions it can have');
      if (outcome === 'added') {
        events.publish(channel.channelId, 'reaction:added', { messageId: id, channelId: channel.channelId, serverId: channel.serverId, userId: user.userId, emoji });
      }
    },
  );

  async function removeReaction(channel: ChannelAccess, rawMessageId: string, rawEmoji: string, userId: string): Promise<void> {
    const id = pathId(rawMessageId, messageGone);
    const emoji = emojiOf(rawEmoji);
    const removed = await store.removeReaction(channel.channelId, id, userId, emoji);
    if (removed === null) throw messageGone();
    if (removed) events.publish(channel.channelId, 'reaction:removed', { messageId: id, channelId: channel.channelId, serverId: channel.serverId, userId, emoji });
  }

  routes.add(
    {
      method: 'delete',
      path: '/channels/:channelId/messages/:messageId/reactions/:emoji/@me',
      summary: 'Remove an own reaction (idempotent)',
      tag: TAG,
      params: ReactionParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }): Promise<undefined> => {
      const channel = await textChannel(user.userId, params.channelId);
      await removeReaction(channel, params.messageId, params.emoji, user.userId);
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/channels/:channelId/messages/:messageId/reactions/:emoji/:userId',
      summary: "Remove a member's reaction (MANAGE_MESSAGES)",
      tag: TAG,
      params: MemberReactionParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }): Promise<undefined> => {
      const userId = pathId(params.userId, () => new HttpError('NOT_FOUND', 'unknown user'));
      const channel = await textChannel(user.userId, params.channelId, ...(userId === user.userId ? [] : (['MANAGE_MESSAGES'] as const)));
      await removeReaction(channel, params.messageId, params.emoji, userId);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/channels/:channelId/typing',
      summary: 'Tell the channel the caller is typing (typing:started, at most every few seconds)',
      tag: TAG,
      params: ChannelParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }): Promise<undefined> => {
      const channel = await textChannel(user.userId, params.channelId, 'SEND_MESSAGES');
      if (await limits.typingDue(user.userId, channel.channelId)) {
        events.publish(channel.channelId, 'typing:started', { serverId: channel.serverId, channelId: channel.channelId, userId: user.userId }, user.userId);
      }
    },
  );

  return { drain: () => events.drain() };
}
