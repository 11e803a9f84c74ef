import { Redis } from 'ioredis';
import { ProtocolError, voiceRevocationKey, voiceRevocationKeysOf, type VoiceRemoval } from '@concord/protocol';

/**
 * When grants for a room stopped admitting a user: signaling refuses, at join, a grant whose
 * permissions were checked before the user's latest removal from its room, so a grant fetched
 * just before a kick, a ban or a lost permission admits no one, whatever its remaining lifetime.
 */
export interface VoiceRevocations {
  /** The time (ms) a grant for the room must have been checked after to admit the user; 0 if none. */
  revokedAt(roomId: string, userId: string): Promise<number>;
  close(): Promise<void>;
}

interface Revocation {
  at: number;
  until: number;
}

/**
 * One process (the embedded default), where the API hands removals straight to this signaling
 * instance. Records die with the process, so grants checked before it started are refused as well:
 * they may predate a removal no longer known (the client just fetches a fresh grant).
 */
export class InProcessVoiceRevocations implements VoiceRevocations {
  private readonly revocations = new Map<string, Revocation>();
  private readonly startedAt = Date.now();

  record(removal: VoiceRemoval): void {
    const { at, until } = removal;
    const now = Date.now();
    for (const [key, revocation] of this.revocations) if (revocation.until <= now) this.revocations.delete(key);
    if (until <= now) return;
    for (const key of voiceRevocationKeysOf('', removal)) {
      const known = this.revocations.get(key);
      this.revocations.set(key, { at: Math.max(at, known?.at ?? 0), until: Math.max(until, known?.until ?? 0) });
    }
  }

  async revokedAt(roomId: string, userId: string): Promise<number> {
    const now = Date.now();
    const live = [voiceRevocationKey('', roomId), voiceRevocationKey('', roomId, userId)]
      .map((key) => this.revocations.get(key))
      .filter((revocation) => revocation !== undefined && revocation.until > now)
      .map((revocation) => revocation!.at);
    return Math.max(this.startedAt, ...live);
  }

  async close(): Promise<void> {
    this.revocations.clear();
  }
}

/**
 * A cluster: the API's RedisRealtimePublisher writes each removal's keys (voiceRevocationKey, valued
 * with its time and expiring when the grants it voids would have) before publishing it; every
 * signaling process reads them here. A Redis that cannot answer refuses the join (UNAVAILABLE).
 */
export class RedisVoiceRevocations implements VoiceRevocations {
  private readonly redis: Redis;

  constructor(
    redisUrl: string,
    private readonly keyPrefix: string,
  ) {
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    this.redis.on('error', () => {});
  }

  async revokedAt(roomId: string, userId: string): Promise<number> {
    let values: (string | null)[];
    try {
      values = await this.redis.mget(voiceRevocationKey(this.keyPrefix, roomId), voiceRevocationKey(this.keyPrefix, roomId, userId));
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `checking voice removals: ${(error as Error).message}`);
    }
    return Math.max(0, ...values.map((value) => Number(value ?? 0)));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
