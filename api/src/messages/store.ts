import { MAX_DISTINCT_REACTIONS, type Message, type ReactionSummary } from '@concord/protocol';
import type { Database, NamedStatement, Queryable } from '../db/database';
import { isForeignKeyViolation } from '../db/errors';
import { uuidv7 } from '../db/ids';
import { HttpError } from '../http-errors';

/**
 * Messages and reactions in PostgreSQL (tables of migrations/0001_core.sql). Every message is
 * addressed by (channel_id, id), so each statement is one range or point of messages_pkey; a
 * channel deleted under a write shows as a foreign key violation, answered NOT_FOUND.
 */

export interface MessageRow {
  channel_id: string;
  id: string;
  author_id: string | null;
  content: string;
  created_at: Date;
  edited_at: Date | null;
  reply_to_id: string | null;
  mentions: string[];
  mention_everyone: boolean;
  nonce: string | null;
}

const COLUMNS = 'channel_id, id, author_id, content, created_at, edited_at, reply_to_id, mentions, mention_everyone, nonce';

/**
 * The subset of `$candidates` (uuid[]) who are members of server `$server`, in the order they
 * were written: only members can be mentioned.
 */
const MEMBER_MENTIONS = (server: string, candidates: string) =>
  `ARRAY(SELECT m.user_id FROM members m WHERE m.server_id = ${server} AND m.user_id = ANY(${candidates}::uuid[]) ORDER BY array_position(${candidates}::uuid[], m.user_id))`;

/** Every message sent runs this: prepared once per connection. */
const INSERT_MESSAGE: NamedStatement = {
  name: 'messages.insert',
  text: `INSERT INTO messages (channel_id, id, author_id, content, reply_to_id, mentions, mention_everyone, nonce)
         VALUES ($1, $2, $3, $4, $5, ${MEMBER_MENTIONS('$6', '$7')}, $8, $9)
         ON CONFLICT (author_id, nonce) WHERE nonce IS NOT NULL DO NOTHING
         RETURNING ${COLUMNS}`,
};

export const channelGone = () => new HttpError('NOT_FOUND', 'unknown channel');
export const messageGone = () => new HttpError('NOT_FOUND', 'unknown message');

export interface NewMessage {
  channelId: string;
  serverId: string;
  authorId: string;
  content: string;
  replyToId?: string;
  /** Ids written as `<@id>`; only the server's members among them are stored. */
  mentionCandidates: string[];
  mentionEveryone: boolean;
  nonce?: string;
}

export interface MessageEdit {
  channelId: string;
  serverId: string;
  id: string;
  authorId: string;
  content: string;
  mentionCandidates: string[];
  mentionEveryone: boolean;
}

export interface PageQuery {
  channelId: string;
  before?: string;
  after?: string;
  limit: number;
}

export type ReactionAdded = 'added' | 'already' | 'too-many';

export function toMessage(row: MessageRow, serverId: string, reactions: ReactionSummary[] = []): Message {
  return {
    id: row.id,
    channelId: row.channel_id,
    serverId,
    authorId: row.author_id,
    content: row.content,
    createdAt: row.created_at.toISOString(),
    editedAt: row.edited_at?.toISOString() ?? null,
    replyToId: row.reply_to_id,
    mentions: row.mentions,
    mentionEveryone: row.mention_everyone,
    nonce: row.nonce,
    reactions,
  };
}

/** Maps the constraint failures a client can cause by racing deletions; anything else is rethrown. */
function clientFault(error: unknown): never {
  if (isForeignKeyViolation(error, 'messages_channel_fk')) throw channelGone();
  if (isForeignKeyViolation(error, 'messages_reply_fk')) throw new HttpError('NOT_FOUND', 'the message replied to is not in this channel');
  if (isForeignKeyViolation(error, 'reactions_message_fk')) throw messageGone();
  if (isForeignKeyViolation(error, 'messages_author_fk') || isForeignKeyViolation(error, 'reactions_user_fk')) {
    throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
  }
  throw error;
}

export class MessageStore {
  constructor(private readonly db: Database) {}

  /**
   * Inserts the message, or with a nonce this author used before, returns the message that nonce
   * created (`created: false`) — also when the first attempt is still committing concurrently:
   * ON CONFLICT waits for it. The insert is one autocommitted statement, so a returned message is
   * durable.
   */
  async insert(message: NewMessage): Promise<{ row: MessageRow; created: boolean }> {
    let row: MessageRow | null;
    try {
      row = await this.db.maybeOne<MessageRow>(
        INSERT_MESSAGE,
        [
          message.channelId,
          uuidv7(),
          message.authorId,
          message.content,
          message.replyToId ?? null,
          message.serverId,
          message.mentionCandidates,
          message.mentionEveryone,
          message.nonce ?? null,
        ],
      );
    } catch (error) {
      clientFault(error);
    }
    if (row) return { row, created: true };
    const existing = message.nonce === undefined ? null : await this.findByNonce(message.authorId, message.nonce);
    // Only a nonce conflict makes DO NOTHING skip the row, and that message existed a moment ago;
    // if it was deleted since, the retry has nothing to return.
    if (!existing) throw new HttpError('CONFLICT', 'a message with this nonce was just deleted; send with a new nonce');
    return { row: existing, created: false };
  }

  /** The message this author sent with this nonce, in any channel. */
  findByNonce(authorId: string, nonce: string): Promise<MessageRow | null> {
    return this.db.maybeOne<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE author_id = $1 AND nonce = $2`, [authorId, nonce]);
  }

  get(channelId: string, id: string, db: Queryable = this.db): Promise<MessageRow | null> {
    return db.maybeOne<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE channel_id = $1 AND id = $2`, [channelId, id]);
  }

  /** The edited message, or null when it is gone. The caller checked authorship; the statement checks it again. */
  async edit(edit: MessageEdit): Promise<MessageRow | null> {
    try {
      return await this.db.maybeOne<MessageRow>(
        `UPDATE messages SET content = $4, edited_at = now(), mentions = ${MEMBER_MENTIONS('$5', '$6')}, mention_everyone = $7
         WHERE channel_id = $1 AND id = $2 AND author_id = $3
         RETURNING ${COLUMNS}`,
        [edit.channelId, edit.id, edit.authorId, edit.content, edit.serverId, edit.mentionCandidates, edit.mentionEveryone],
      );
    } catch (error) {
      clientFault(error);
    }
  }

  /**
   * Deletes the message if `userId` wrote it or `anyAuthor` (MANAGE_MESSAGES). Its reactions go
   * with it, and replies to it are unlinked (foreign keys).
   */
  async delete(channelId: string, id: string, userId: string, anyAuthor: boolean): Promise<'deleted' | 'not-found' | 'forbidden'> {
    const deleted = await this.db.query(`DELETE FROM messages WHERE channel_id = $1 AND id = $2 AND (author_id = $3 OR $4)`, [channelId, id, userId, anyAuthor]);
    if (deleted.rowCount > 0) return 'deleted';
    return (await this.get(channelId, id)) ? 'forbidden' : 'not-found';
  }

  /** One page of messages_pkey: newest first, except `after` alone, which pages forward oldest first. */
  async page(query: PageQuery): Promise<MessageRow[]> {
    const params: unknown[] = [query.channelId, query.limit];
    const where = ['channel_id = $1'];
    if (query.before !== undefined) where.push(`id < $${params.push(query.before)}`);
    if (query.after !== undefined) where.push(`id > $${params.push(query.after)}`);
    const order = query.after !== undefined && query.before === undefined ? 'ASC' : 'DESC';
    const { rows } = await this.db.query<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE ${where.join(' AND ')} ORDER BY id ${order} LIMIT $2`, params);
    return rows;
  }

  /** Reactions of each message, grouped by emoji in the order each emoji was first used. */
  async reactionsOf(channelId: string, messageIds: string[], viewerId: string): Promise<Map<string, ReactionSummary[]>> {
    const byMessage = new Map<string, ReactionSummary[]>();
    if (messageIds.length === 0) return byMessage;
    const { rows } = await this.db.query<{ message_id: string; emoji: string; count: number; me: boolean }>(
      `SELECT message_id, emoji, count(*) AS count, bool_or(user_id = $3) AS me
       FROM reactions WHERE message_id = ANY($2::uuid[]) AND channel_id = $1
       GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji`,
      [channelId, messageIds, viewerId],
    );
    for (const row of rows) {
      let list = byMessage.get(row.message_id);
      if (!list) byMessage.set(row.message_id, (list = []));
      list.push({ emoji: row.emoji, count: row.count, me: row.me });
    }
    return byMessage;
  }

  /**
   * Adds the user's reaction, unless the message already has MAX_DISTINCT_REACTIONS other emojis.
   * The message's row lock makes concurrent first uses of different emojis take turns, so the
   * limit holds exactly; null when the message does not exist.
   */
  async addReaction(channelId: string, messageId: string, userId: string, emoji: string): Promise<ReactionAdded | null> {
    try {
      return await this.db.transaction(async (tx) => {
        const message = await tx.maybeOne(`SELECT 1 FROM messages WHERE channel_id = $1 AND id = $2 FOR NO KEY UPDATE`, [channelId, messageId]);
        if (!message) return null;
        const inserted = await tx.query(
          `INSERT INTO reactions (channel_id, message_id, user_id, emoji)
           SELECT $1, $2, $3, $4
           WHERE EXISTS (SELECT 1 FROM reactions WHERE message_id = $2 AND emoji = $4)
              OR (SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $2) < $5
           ON CONFLICT DO NOTHING`,
          [channelId, messageId, userId, emoji, MAX_DISTINCT_REACTIONS],
        );
        if (inserted.rowCount > 0) return 'added';
        const mine = await tx.maybeOne(`SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3`, [messageId, emoji, userId]);
        return mine ? 'already' : 'too-many';
      });
    } catch (error) {
      clientFault(error);
    }
  }

  /** Whether a reaction was removed; null when the message does not exist. */
  async removeReaction(channelId: string, messageId: string, userId: string, emoji: string): Promise<boolean | null> {
    const removed = await this.db.query(`DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3 AND channel_id = $4`, [
      messageId,
      emoji,
      userId,
      channelId,
    ]);
    if (removed.rowCount > 0) return true;
    return (await this.get(channelId, messageId)) ? false : null;
  }

  /** Who reacted with the emoji, by user id ascending (the primary key's order), after `after`. */
  async reactionUsers(channelId: string, messageId: string, emoji: string, limit: number, after?: string): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT user_id FROM reactions WHERE message_id = $1 AND emoji = $2 AND channel_id = $3 AND ($4::uuid IS NULL OR user_id > $4::uuid)
       ORDER BY user_id LIMIT $5`,
      [messageId, emoji, channelId, after ?? null, limit],
    );
    return rows.map((row) => row.user_id);
  }
}
