import { ProtocolError, type RevokedSessions, type SessionInfo, type SessionRevokedReason } from '@concord/protocol';
import type { SessionRevocationRecord } from '@concord/registry';
import type { Logger } from 'pino';
import type { Cache, CachedLoader } from '../cache';
import type { RealtimePublisher } from '../realtime';
import type { RevokedSession, SessionClient, SessionState, SessionStore } from './store';

/**
 * How long a session's state may be served from the cache. Not the revocation delay: revoking
 * invalidates the entry (in Redis for every API instance, or in this process) before it answers.
 * This only bounds the case where that invalidation failed, which the revoking request reports.
 */
export const SESSION_CACHE_TTL_SECONDS = 60;

/** Signaling's record of revoked sessions in a cluster (RedisRevokedSessions). */
export interface RevocationRecorder {
  record(revocations: readonly SessionRevocationRecord[]): Promise<void>;
}

export interface SessionServiceDeps {
  store: SessionStore;
  /** Reads through the cache the revocations invalidate, with SESSION_CACHE_TTL_SECONDS. */
  loader: CachedLoader;
  cache: Cache;
  realtime: RealtimePublisher;
  /** In a cluster, where signaling learns of revocations; absent when signaling asks this service itself. */
  recorder?: RevocationRecorder;
  logger: Pick<Logger, 'warn'>;
}

const cacheKey = (sessionId: string) => `session:${sessionId}`;

/**
 * Server-side sessions: opened at sign-in, checked on every request (and, in one process, by
 * signaling for every socket and voice join), revoked by signing out, signing out everywhere or
 * changing the password. A revocation takes effect before the revoking request answers: the
 * database row, then the cached state every API instance reads, then signaling's record, then the
 * sessions' live sockets, which signaling closes.
 */
export class SessionService implements RevokedSessions {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** A new session of the user; its id goes into the token (`sid`). */
  open(userId: string, client: SessionClient, expiresAt: number): Promise<string> {
    return this.deps.store.create(userId, client, expiresAt);
  }

  /** Whether a token's session is the user's, not revoked and not expired. */
  async isLive(sessionId: string, userId: string): Promise<boolean> {
    const state = await this.state(sessionId);
    return state !== null && !state.revoked && state.userId === userId && state.expiresAt > Date.now();
  }

  /** For signaling: a session this API does not know, or no longer accepts, counts as revoked. */
  async isRevoked(sessionId: string): Promise<boolean> {
    const state = await this.state(sessionId);
    return state === null || state.revoked || state.expiresAt <= Date.now();
  }

  async list(userId: string, currentSessionId: string | undefined): Promise<SessionInfo[]> {
    return (await this.deps.store.live(userId)).map((session) => ({ ...session, current: session.id === currentSessionId }));
  }

  /** Revokes one of the user's sessions; false if the user has no such live session. */
  async revokeOne(userId: string, sessionId: string, reason: SessionRevokedReason): Promise<boolean> {
    const revoked = await this.deps.store.revokeOne(userId, sessionId);
    await this.propagate(revoked, reason);
    return revoked.length > 0;
  }

  /** Revokes every session of the user but `keep`; the number revoked. */
  async revokeAll(userId: string, keep: string | undefined, reason: SessionRevokedReason): Promise<number> {
    const revoked = await this.deps.store.revokeAll(userId, keep);
    await this.propagate(revoked, reason);
    return revoked.length;
  }

  private state(sessionId: string): Promise<SessionState | null> {
    return this.deps.loader.get('session', cacheKey(sessionId), async () => {
      const state = await this.deps.store.touch(sessionId);
      // Heals a signaling record lost with Redis's data: the token in use is recorded again.
      if (state?.revoked) await this.record([{ id: sessionId, expiresAt: state.expiresAt }]).catch((error: unknown) => this.warn(error, 're-recording a revoked session'));
      return state;
    });
  }

  /**
   * Everything after the database row, in order. A failure answers UNAVAILABLE: the row is revoked
   * already, so the session is refused by every API instance within SESSION_CACHE_TTL_SECONDS at
   * worst, and the user can repeat the request.
   */
  private async propagate(revoked: RevokedSession[], reason: SessionRevokedReason): Promise<void> {
    if (revoked.length === 0) return;
    const keys = revoked.map((session) => cacheKey(session.id));
    await this.deps.cache.invalidate(keys).catch(() => this.deps.cache.invalidate(keys)).catch((error: unknown) => {
      throw new ProtocolError('UNAVAILABLE', `signed out, but the session cache could not be updated: ${(error as Error).message}`);
    });
    await this.record(revoked);
    await this.deps.realtime.revokeSessions({ sessionIds: revoked.map((session) => session.id), reason });
  }

  private async record(revoked: RevokedSession[]): Promise<void> {
    await this.deps.recorder?.record(revoked.map((session) => ({ sessionId: session.id, expiresAt: session.expiresAt })));
  }

  private warn(error: unknown, what: string): void {
    this.deps.logger.warn({ err: error }, `${what} failed`);
  }
}
