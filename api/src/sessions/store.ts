import type { Queryable } from '../db/database';
import { uuidv7 } from '../db/ids';

/** Where a session was opened from, as the session list shows it. */
export interface SessionClient {
  userAgent: string;
  ip: string;
}

/** What the per-request check needs of a session; cached. */
export interface SessionState {
  userId: string;
  revoked: boolean;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface SessionRecord extends SessionClient {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** A session just revoked, and when its token would have expired anyway. */
export interface RevokedSession {
  id: string;
  expiresAt: number;
}

interface RecordRow {
  id: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  user_agent: string;
  ip: string;
}

interface RevokedRow {
  id: string;
  expires_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const toRevoked = (rows: RevokedRow[]): RevokedSession[] => rows.map((row) => ({ id: row.id, expiresAt: row.expires_at.getTime() }));

/** The `sessions` table (migrations/0003_sessions.sql). */
export class SessionStore {
  constructor(private readonly db: Queryable) {}

  /** A new session; the user's expired sessions are pruned on the way (a user signs in rarely). */
  async create(userId: string, client: SessionClient, expiresAt: number): Promise<string> {
    const id = uuidv7();
    await this.db.query('DELETE FROM sessions WHERE user_id = $1 AND expires_at < now()', [userId]);
    await this.db.query('INSERT INTO sessions (id, user_id, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5)', [
      id,
      userId,
      new Date(expiresAt),
      client.userAgent,
      client.ip,
    ]);
    return id;
  }

  /**
   * The session's state, marking it seen now: called on a cache miss only, so a session in use is
   * written about once per cache lifetime, not on every request.
   */
  async touch(sessionId: string): Promise<SessionState | null> {
    if (!UUID.test(sessionId)) return null;
    const row = await this.db.maybeOne<{ user_id: string; revoked: boolean; expires_at: Date }>(
      `UPDATE sessions SET last_seen_at = CASE WHEN revoked_at IS NULL THEN now() ELSE last_seen_at END
       WHERE id = $1 RETURNING user_id, revoked_at IS NOT NULL AS revoked, expires_at`,
      [sessionId],
    );
    return row && { userId: row.user_id, revoked: row.revoked, expiresAt: row.expires_at.getTime() };
  }

  /** The user's sessions that are neither revoked nor expired, newest first. */
  async live(userId: string): Promise<SessionRecord[]> {
    const { rows } = await this.db.query<RecordRow>(
      `SELECT id, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions
       WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC`,
      [userId],
    );
    return rows.map((row) => ({
      id: row.id,
      createdAt: row.created_at.getTime(),
      lastSeenAt: row.last_seen_at.getTime(),
      expiresAt: row.expires_at.getTime(),
      userAgent: row.user_agent,
      ip: row.ip,
    }));
  }

  /** Revokes one live session of the user; [] if the user has no such live session. */
  async revokeOne(userId: string, sessionId: string): Promise<RevokedSession[]> {
    if (!UUID.test(sessionId)) return [];
    const { rows } = await this.db.query<RevokedRow>(
      'UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now() RETURNING id, expires_at',
      [sessionId, userId],
    );
    return toRevoked(rows);
  }

  /** Revokes every live session of the user but `keep` (if given). */
  async revokeAll(userId: string, keep: string | undefined): Promise<RevokedSession[]> {
    const { rows } = await this.db.query<RevokedRow>(
      `UPDATE sessions SET revoked_at = now()
       WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND ($2::uuid IS NULL OR id <> $2::uuid)
       RETURNING id, expires_at`,
      [userId, keep ?? null],
    );
    return toRevoked(rows);
  }
}
