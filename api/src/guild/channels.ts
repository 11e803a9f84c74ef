import { z } from 'zod';
import {
  Channel,
  ChannelView,
  computePermissions,
  canGrant,
  CreateChannelRequest,
  has,
  OverwriteTargetType,
  Permission,
  ReorderChannelsRequest,
  SetOverwriteRequest,
  UpdateChannelRequest,
} from '@concord/protocol';
import { audienceOf, guildKeys, serverRolesOf, type ChannelContext, type ChannelRecord } from '../access';
import { isCheckViolation, isForeignKeyViolation, uuidv7, type Queryable } from '../db';
import { NoContent, type RouteTable } from '../http/route-table';
import type { GuildModule } from './deps';
import { ChannelParams, Id, ServerParams } from './params';
import { badRequest, conflict, forbidden, notFound, requirePermission, toChannel } from './views';

/** Channels (categories included) per server. */
export const MAX_CHANNELS = 500;

const OverwriteParams = z.object({ channelId: Id, targetType: OverwriteTargetType, targetId: Id });

/** The channel a new or moved channel is to sit in: a category of the same server. */
function checkParent(channels: readonly ChannelRecord[], kind: ChannelRecord['kind'], parentId: string | null | undefined): void {
  if (parentId === undefined || parentId === null) return;
  const parent = channels.find((channel) => channel.id === parentId);
  if (!parent) throw notFound('parent channel');
  if (parent.kind !== 'category') throw badRequest('parentId: the parent must be a category');
  if (kind === 'category') throw badRequest('parentId: categories cannot be nested');
}

const channelWriteError = (error: unknown): unknown => {
  if (isForeignKeyViolation(error, 'channels_parent_fk')) return notFound('parent channel');
  if (isForeignKeyViolation(error, 'channels_server_fk')) return notFound('server');
  if (isCheckViolation(error, 'channels_category_top_level')) return badRequest('parentId: categories cannot be nested');
  return error;
};

export function channelRoutes(table: RouteTable, { deps, effects, voice }: GuildModule): void {
  const { db, data, access } = deps;

  /** Who sees which channels before and after a write: each member learns of a change as they see it. */
  async function visibility(serverId: string): Promise<Map<string, Set<string>>> {
    const [server, roles, channels, members] = await Promise.all([data.server(serverId), data.roles(serverId), data.channels(serverId), data.members(serverId)]);
    const seen = new Map<string, Set<string>>();
    if (!server) return seen;
    const serverRoles = serverRolesOf(server, roles);
    for (const channel of channels) seen.set(channel.id, new Set(audienceOf(serverRoles, members, channel)));
    return seen;
  }

  /**
   * After a change to channels of `serverId` (cache already invalidated): the members who see a
   * changed channel get it updated; those who only now see it get it created, those who no longer
   * see it get it deleted.
   */
  async function publishChannelChanges(serverId: string, before: Map<string, Set<string>>, changedIds: readonly string[]): Promise<void> {
    const [after, channels] = await Promise.all([visibility(serverId), data.channels(serverId)]);
    for (const channelId of changedIds) {
      const was = before.get(channelId) ?? new Set<string>();
      const now = after.get(channelId) ?? new Set<string>();
      const channel = channels.find((candidate) => candidate.id === channelId);
      if (channel) {
        await effects.publish([...now].filter((userId) => was.has(userId)), 'channel:updated', { channel: toChannel(channel) });
        await effects.publish([...now].filter((userId) => !was.has(userId)), 'channel:created', { channel: toChannel(channel) });
      }
      await effects.publish([...was].filter((userId) => !now.has(userId)), 'channel:deleted', { serverId, channelId });
    }
  }

  table.add(
    { method: 'get', path: '/servers/:serverId/channels', summary: 'The channels of a server that I can see, with my permissions in each', tag: 'channels', params: ServerParams, response: z.array(ChannelView) },
    async ({ user, params }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      const channels = await data.channels(params.serverId);
      return channels
        .map((channel) => ({ ...toChannel(channel), permissions: computePermissions({ ...context.actor, overwrites: channel.overwrites }) }))
        .filter((channel) => has(channel.permissions, Permission.VIEW_CHANNEL));
    },
  );

  table.add(
    { method: 'post', path: '/servers/:serverId/channels', summary: 'Create a text or voice channel or a category (MANAGE_CHANNELS)', tag: 'channels', params: ServerParams, body: CreateChannelRequest, response: Channel, status: 201 },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_CHANNELS, context.withheld);
      const channels = await data.channels(params.serverId);
      if (channels.length >= MAX_CHANNELS) throw conflict(`a server has at most ${MAX_CHANNELS} channels`);
      checkParent(channels, body.kind, body.parentId);
      const position = body.position ?? channels.reduce((last, channel) => Math.max(last, channel.position + 1), 0);
      const channelId = uuidv7();
      await db
        .query('INSERT INTO channels (id, server_id, kind, name, topic, position, parent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          channelId,
          params.serverId,
          body.kind,
          body.name,
          body.topic || null,
          position,
          body.parentId ?? null,
        ])
        .catch((error: unknown) => {
          throw channelWriteError(error);
        });
      await effects.invalidate([guildKeys.channels(params.serverId), guildKeys.channelServer(channelId)]);
      const channel = (await data.channels(params.serverId)).find((candidate) => candidate.id === channelId);
      if (!channel) throw notFound('channel');
      await effects.publish(await access.channelAudience(channelId), 'channel:created', { channel: toChannel(channel) });
      return toChannel(channel);
    },
  );

  table.add(
    {
      method: 'patch',
      path: '/servers/:serverId/channels',
      summary: 'Move channels: new positions, and optionally new categories (MANAGE_CHANNELS)',
      tag: 'channels',
      params: ServerParams,
      body: ReorderChannelsRequest,
      response: z.array(Channel),
    },
    async ({ user, params, body }) => {
      const context = await access.serverContext(user.userId, params.serverId);
      requirePermission(context.permissions, Permission.MANAGE_CHANNELS, context.withheld);
      const channels = await data.channels(params.serverId);
      for (const move of body) {
        const channel = channels.find((candidate) => candidate.id === move.id);
        if (!channel) throw notFound('channel');
        checkParent(channels, channel.kind, move.parentId);
      }
      const before = await visibility(params.serverId);
      await db
        .transaction(async (tx) => {
          for (const move of body) {
            const { rowCount } = await tx.query(
              'UPDATE channels SET position = $3, parent_id = CASE WHEN $4 THEN $5::uuid ELSE parent_id END WHERE id = $1 AND server_id = $2',
              [move.id, params.serverId, move.position, move.parentId !== undefined, move.parentId ?? null],
            );
            if (rowCount === 0) throw notFound('channel');
          }
        })
        .catch((error: unknown) => {
          throw channelWriteError(error);
        });
      await effects.invalidate([guildKeys.channels(params.serverId)]);
      await publishChannelChanges(params.serverId, before, body.map((move) => move.id));
      return (await data.channels(params.serverId)).map(toChannel);
    },
  );

  /** The channel, if the caller may see it: one they cannot see is unknown to them (404), as in the message routes. */
  async function visibleChannel(userId: string, channelId: string): Promise<ChannelContext> {
    const context = await access.channelContext(userId, channelId);
    if (!has(context.channelPermissions, Permission.VIEW_CHANNEL)) throw notFound('channel');
    return context;
  }

  table.add(
    { method: 'get', path: '/channels/:channelId', summary: 'A channel, with my permissions in it', tag: 'channels', params: ChannelParams, response: ChannelView },
    async ({ user, params }) => {
      const context = await visibleChannel(user.userId, params.channelId);
      return { ...toChannel(context.channel), permissions: context.channelPermissions };
    },
  );

  table.add(
    { method: 'patch', path: '/channels/:channelId', summary: 'Rename a channel, set its topic, position or category (MANAGE_CHANNELS)', tag: 'channels', params: ChannelParams, body: UpdateChannelRequest, response: Channel },
    async ({ user, params, body }) => {
      const context = await visibleChannel(user.userId, params.channelId);
      requirePermission(context.channelPermissions, Permission.MANAGE_CHANNELS, context.withheld);
      const serverId = context.server.id;
      if (body.parentId !== undefined) {
        if (body.parentId === params.channelId) throw badRequest('parentId: a channel cannot be its own category');
        checkParent(await data.channels(serverId), context.channel.kind, body.parentId);
      }
      const { rowCount } = await db
        .query(
          `UPDATE channels SET name = coalesce($2, name), topic = CASE WHEN $3 THEN $4 ELSE topic END, position = coalesce($5, position),
                  parent_id = CASE WHEN $6 THEN $7::uuid ELSE parent_id END
            WHERE id = $1`,
          [params.channelId, body.name ?? null, body.topic !== undefined, body.topic || null, body.position ?? null, body.parentId !== undefined, body.parentId ?? null],
        )
        .catch((error: unknown) => {
          throw channelWriteError(error);
        });
      if (rowCount === 0) throw notFound('channel');
      await effects.invalidate([guildKeys.channels(serverId)]);
      const channel = (await data.channels(serverId)).find((candidate) => candidate.id === params.channelId);
      if (!channel) throw notFound('channel');
      await effects.publish(await access.channelAudience(params.channelId), 'channel:updated', { channel: toChannel(channel) });
      return toChannel(channel);
    },
  );

  table.add(
    { method: 'delete', path: '/channels/:channelId', summary: 'Delete a channel; a category’s channels move to the top level (MANAGE_CHANNELS)', tag: 'channels', params: ChannelParams, response: NoContent, status: 204 },
    async ({ user, params }) => {
      const context = await visibleChannel(user.userId, params.channelId);
      requirePermission(context.channelPermissions, Permission.MANAGE_CHANNELS, context.withheld);
      const serverId = context.server.id;
      const children = (await data.channels(serverId)).filter((channel) => channel.parentId === params.channelId).map((channel) => channel.id);
      const before = await visibility(serverId);
      const { rowCount } = await db.query('DELETE FROM channels WHERE id = $1', [params.channelId]);
      if (rowCount === 0) throw notFound('channel');
      await effects.invalidate([guildKeys.channels(serverId), guildKeys.channelServer(params.channelId)]);
      await publishChannelChanges(serverId, before, [params.channelId, ...children]);
      if (context.channel.kind === 'voice') await voice.endCalls([params.channelId], 'channel-deleted');
      return undefined;
    },
  );

  // ---- permission overwrites ----

  /**
   * Discord's rule: editing a channel's overwrites takes MANAGE_ROLES in that channel, and only
   * bits the editor holds there may be allowed, denied or taken out of an overwrite.
   */
  async function overwriteContext(userId: string, params: z.infer<typeof OverwriteParams>): Promise<ChannelContext> {
    const context = await visibleChannel(userId, params.channelId);
    requirePermission(context.channelPermissions, Permission.MANAGE_ROLES, context.withheld);
    const serverId = context.server.id;
    if (params.targetType === 'role') {
      if (!context.roles.some((role) => role.id === params.targetId)) throw notFound('role');
    } else if (!(await data.membership(serverId, params.targetId))) {
      throw notFound('member');
    }
    return context;
  }

  async function writeOverwrite(
    context: ChannelContext,
    params: z.infer<typeof OverwriteParams>,
    write: (tx: Queryable) => Promise<void>,
  ): Promise<ChannelRecord> {
    const serverId = context.server.id;
    const [before, voiceBefore] = await Promise.all([visibility(serverId), voice.snapshot(serverId, { channelIds: [params.channelId] })]);
    await db.transaction(write).catch((error: unknown) => {
      throw isForeignKeyViolation(error, 'permission_overwrites_channel_fk') ? notFound('channel') : error;
    });
    await effects.invalidate([guildKeys.channels(serverId)]);
    await publishChannelChanges(serverId, before, [params.channelId]);
    await voice.publishChanges(serverId, voiceBefore, { channelIds: [params.channelId] });
    const channel = (await data.channels(serverId)).find((candidate) => candidate.id === params.channelId);
    if (!channel) throw notFound('channel');
    return channel;
  }

  const existingOverwrite = (context: ChannelContext, params: z.infer<typeof OverwriteParams>) =>
    context.channel.overwrites.find((overwrite) => overwrite.targetType === params.targetType && overwrite.targetId === params.targetId);

  table.add(
    {
      method: 'put',
      path: '/channels/:channelId/overwrites/:targetType/:targetId',
      summary: 'Set the channel overwrite of a role or a member (MANAGE_ROLES in the channel; only bits I hold there)',
      tag: 'channels',
      params: OverwriteParams,
      body: SetOverwriteRequest,
      response: Channel,
    },
    async ({ user, params, body }) => {
      const context = await overwriteContext(user.userId, params);
      const previous = existingOverwrite(context, params) ?? { allow: 0, deny: 0 };
      const changed = (previous.allow ^ body.allow) | (previous.deny ^ body.deny);
      if (!canGrant(context.channelPermissions, body.allow | body.deny | changed)) {
        throw forbidden('an overwrite can only allow or deny permissions you have in the channel');
      }
      const channel = await writeOverwrite(context, params, async (tx) => {
        await tx.query(
          `INSERT INTO permission_overwrites (channel_id, target_type, target_id, allow, deny) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (channel_id, target_type, target_id) DO UPDATE SET allow = excluded.allow, deny = excluded.deny`,
          [params.channelId, params.targetType, params.targetId, body.allow, body.deny],
        );
      });
      return toChannel(channel);
    },
  );

  table.add(
    {
      method: 'delete',
      path: '/channels/:channelId/overwrites/:targetType/:targetId',
      summary: 'Remove the channel overwrite of a role or a member (MANAGE_ROLES in the channel; only bits I hold there)',
      tag: 'channels',
      params: OverwriteParams,
      response: NoContent,
      status: 204,
    },
    async ({ user, params }) => {
      const context = await visibleChannel(user.userId, params.channelId);
      requirePermission(context.channelPermissions, Permission.MANAGE_ROLES, context.withheld);
      const previous = existingOverwrite(context, params);
      if (!previous) throw notFound('overwrite');
      if (!canGrant(context.channelPermissions, previous.allow | previous.deny)) {
        throw forbidden('this overwrite holds permissions you do not have in the channel');
      }
      await writeOverwrite(context, params, async (tx) => {
        const { rowCount } = await tx.query('DELETE FROM permission_overwrites WHERE channel_id = $1 AND target_type = $2 AND target_id = $3', [
          params.channelId,
          params.targetType,
          params.targetId,
        ]);
        if (rowCount === 0) throw notFound('overwrite');
      });
      return undefined;
    },
  );
}
