import { ProtocolError, type RevokedSessions } from '@concord/protocol';
import { Redis } from 'ioredis';

export interface RedisRevokedSessionsOptions {
  /** The deployment's REDIS_KEY_PREFIX, shared by the API (which writes) and signaling (which reads). Default `concord:`. */
  keyPrefix?: string;
}

/** A revoked session as recorded: until its token would have expired anyway. */
export interface SessionRevocationRecord {
  sessionId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/**
 * The cluster's record of revoked sessions, one key per session (`<prefix>session-revoked:<id>`)
 * that expires when the session's token does: after that the token is refused for its expiry
 * anyway. The API records revocations; signaling asks before admitting a socket or a voice join.
 * The API's database stays the truth: the API records a revoked session again whenever it meets
 * one, so a Redis that lost its data learns revocations back as their tokens are used.
 */
export class RedisRevokedSessions implements RevokedSessions {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, options: RedisRevokedSessionsOptions = {}) {
    // Fail fast: an unanswerable check refuses the socket (UNAVAILABLE) rather than queueing it.
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    this.redis.on('error', () => {});
    this.prefix = `${options.keyPrefix ?? 'concord:'}session-revoked:`;
  }

  async record(revocations: readonly SessionRevocationRecord[]): Promise<void> {
    const now = Date.now();
    const live = revocations.filter((revocation) => revocation.expiresAt > now);
    if (live.length === 0) return;
    const batch = this.redis.multi();
    for (const { sessionId, expiresAt } of live) batch.set(this.prefix + sessionId, '1', 'PXAT', expiresAt);
    try {
      await batch.exec();
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `recording revoked sessions: ${(error as Error).message}`);
    }
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.prefix + sessionId)) === 1;
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `checking the session: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
