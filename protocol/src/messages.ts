import { z } from 'zod';
import { multiLineText, opaqueToken } from './text';

/**
 * Text chat: messages of a channel, reactions and typing, as the API's REST routes take and return
 * them and as real-time events carry them. Ids are UUIDv7 (time-ordered), so id order is time
 * order and ids double as pagination cursors.
 */

/** Characters (code points, as PostgreSQL's char_length counts) in one message. */
export const MAX_MESSAGE_LENGTH = 4000;
export const MAX_MESSAGE_NONCE_LENGTH = 64;
/** Messages per history page: the default and the most a client may ask for. */
export const DEFAULT_MESSAGE_PAGE = 50;
export const MAX_MESSAGE_PAGE = 100;
/** Different emojis on one message; reacting with one already there is always allowed. */
export const MAX_DISTINCT_REACTIONS = 20;
/** Users listed per page of "who reacted with this emoji". */
export const MAX_REACTION_USERS_PAGE = 100;
/** Distinct `<@userId>` mentions that count in one message; more are plain text. */
export const MAX_MENTIONS = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A message, channel or user id: a canonical UUID, normalised to lower case as PostgreSQL prints it. */
export const MessageRef = z
  .string()
  .regex(UUID, 'must be a UUID')
  .transform((id) => id.toLowerCase());

/** `<@userId>` in a message's text mentions that user (if they are a member of the server). */
const USER_MENTION = /<@([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})>/g;
/** `@everyone` as a word of its own; it notifies everyone only if the author has MENTION_EVERYONE. */
const EVERYONE_MENTION = /(^|[^\w@])@everyone(?![\w])/;

/** The ids mentioned with `<@id>`, lower case, in order of first appearance, at most MAX_MENTIONS. */
export function mentionedUserIds(content: string): string[] {
  const ids = new Set<string>();
  for (const match of content.matchAll(USER_MENTION)) {
    ids.add(match[1]!.toLowerCase());
    if (ids.size >= MAX_MENTIONS) break;
  }
  return [...ids];
}

export const mentionsEveryone = (content: string): boolean => EVERYONE_MENTION.test(content);

/** A message's text: 1..4000 characters, not only white space; line breaks allowed (see ./text). */
export const MessageContent = multiLineText(1, MAX_MESSAGE_LENGTH, { trim: false });

export const MessageNonce = opaqueToken(MAX_MESSAGE_NONCE_LENGTH);

const CUSTOM_EMOJI = /^:[A-Za-z0-9_]{2,32}:$/;
/** Something that makes a grapheme an emoji: a pictograph, a flag's regional indicators or a keycap. */
const EMOJI_MARK = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;
const CONTROL = /\p{Cc}/u;
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** `:name:` (a custom emoji's name), or one unicode emoji (one grapheme, ZWJ sequences and flags included). */
export function isEmoji(text: string): boolean {
  if (CUSTOM_EMOJI.test(text)) return true;
  if (text.length === 0 || text.length > 32 || CONTROL.test(text) || !EMOJI_MARK.test(text)) return false;
  let count = 0;
  for (const _ of graphemes.segment(text)) if (++count > 1) return false;
  return count === 1;
}

export const Emoji = z.string().refine(isEmoji, 'must be one unicode emoji or :name:');

export const ReactionSummary = z.object({
  emoji: z.string(),
  count: z.number().int(),
  /** Whether the caller is among those who reacted (always false in real-time events). */
  me: z.boolean(),
});
export type ReactionSummary = z.infer<typeof ReactionSummary>;

export const Message = z.object({
  id: z.string(),
  channelId: z.string(),
  serverId: z.string(),
  /** Null once the author's account has been deleted. */
  authorId: z.string().nullable(),
  content: z.string(),
  /** ISO 8601. */
  createdAt: z.string(),
  editedAt: z.string().nullable(),
  /** A message of the same channel; null if none, or once that message is deleted. */
  replyToId: z.string().nullable(),
  /** Members mentioned with `<@id>`. */
  mentions: z.array(z.string()),
  /** `@everyone` by an author allowed to (MENTION_EVERYONE). */
  mentionEveryone: z.boolean(),
  /** The client's nonce of the send, so the sender can match the message to its pending one. */
  nonce: z.string().nullable(),
  reactions: z.array(ReactionSummary),
});
export type Message = z.infer<typeof Message>;

export const SendMessageRequest = z
  .object({
    content: MessageContent,
    replyToId: MessageRef.optional(),
    /**
     * Chosen by the client per message and reused when it retries the send: a retry of a send that
     * succeeded returns the first message (200) instead of posting it twice (201).
     */
    nonce: MessageNonce.optional(),
  })
  .strict();
export type SendMessageRequest = z.infer<typeof SendMessageRequest>;

export const EditMessageRequest = z.object({ content: MessageContent }).strict();
export type EditMessageRequest = z.infer<typeof EditMessageRequest>;

/**
 * A page of history. No cursor: the latest messages. `before`: older than that id, newest first.
 * `after` alone: newer than that id, oldest first (paging forward). Both: between them, newest first.
 * Cursors are message ids, or any UUID (e.g. the smallest UUIDv7 of a moment) to page by time.
 */
export const MessageHistoryQuery = z
  .object({
    before: MessageRef.optional(),
    after: MessageRef.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_MESSAGE_PAGE).default(DEFAULT_MESSAGE_PAGE),
  })
  .strict();
export type MessageHistoryQuery = z.infer<typeof MessageHistoryQuery>;

export const MessagePage = z.object({ messages: z.array(Message) });
export type MessagePage = z.infer<typeof MessagePage>;

export const ReactionList = z.object({ reactions: z.array(ReactionSummary) });
export type ReactionList = z.infer<typeof ReactionList>;

export const ReactionUsersQuery = z
  .object({
    /** A user id: the page starts after it (ids ascending). */
    after: MessageRef.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_REACTION_USERS_PAGE).default(MAX_REACTION_USERS_PAGE),
  })
  .strict();
export type ReactionUsersQuery = z.infer<typeof ReactionUsersQuery>;

export const ReactionUsers = z.object({ userIds: z.array(z.string()) });
export type ReactionUsers = z.infer<typeof ReactionUsers>;

// Real-time event payloads (see realtimeEvents in ./realtime).

export const MessageUpdatedEvent = z.object({
  id: z.string(),
  channelId: z.string(),
  serverId: z.string(),
  content: z.string(),
  editedAt: z.string(),
  mentions: z.array(z.string()),
  mentionEveryone: z.boolean(),
});
export type MessageUpdatedEvent = z.infer<typeof MessageUpdatedEvent>;

export const MessageDeletedEvent = z.object({ id: z.string(), channelId: z.string(), serverId: z.string() });
export type MessageDeletedEvent = z.infer<typeof MessageDeletedEvent>;

export const ReactionEvent = z.object({
  messageId: z.string(),
  channelId: z.string(),
  serverId: z.string(),
  userId: z.string(),
  emoji: z.string(),
});
export type ReactionEvent = z.infer<typeof ReactionEvent>;
