import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * How many sockets each user has open, so that one account cannot hold hundreds of connections
 * (each costs memory, presence and fan-out on every signaling process). A socket past the cap is
 * refused at the handshake with RATE_LIMITED.
 */
export interface UserConnections {
  /** Takes a place for connection `connectionId` of the user: false when the user already holds `max`. */
  acquire(userId: string, connectionId: string, max: number): Promise<boolean>;
  /** Gives the place back; unknown connections change nothing. */
  release(userId: string, connectionId: string): Promise<void>;
  close(): Promise<void>;
}

/** One process (the embedded platform, or a single signaling instance): counted in memory. */
export class InProcessUserConnections implements UserConnections {
  private readonly byUser = new Map<string, Set<string>>();

  async acquire(userId: string, connectionId: string, max: number): Promise<boolean> {
    const held = this.byUser.get(userId) ?? new Set<string>();
    if (held.size >= max) return false;
    held.add(connectionId);
    this.byUser.set(userId, held);
    return true;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    const held = this.byUser.get(userId);
    if (!held?.delete(connectionId)) return;
    if (held.size === 0) this.byUser.delete(userId);
  }

  async close(): Promise<void> {}
}

/**
 * Drops lapsed places, then adds this one unless the user has `max` already: atomic, so that
 * connections racing on different processes cannot overshoot together. A sorted set per user:
 * member = instance/connection, score = when the place lapses unless its instance refreshes it.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`;

interface ConnectionCommands {
  concordAcquireConnection(key: string, now: number, lapsesAt: number, max: number, member: string): Promise<number>;
}

/** A place lapses this long after its instance last refreshed it (a crashed instance's go with it). */
const PLACE_TTL_MS = 60_000;

/**
 * A cluster: every signaling process counts into Redis, so the cap holds per user across them.
 * Each process refreshes its own connections' places every PLACE_TTL_MS / 3; the places of a
 * process that died lapse within PLACE_TTL_MS. While Redis cannot be answered, this process counts
 * in its own memory instead (the cap then holds per process) rather than refusing everyone.
 */
export class RedisUserConnections implements UserConnections {
  private readonly redis: Redis & ConnectionCommands;
  private readonly local = new InProcessUserConnections();
  /** This process's connections: userId → connection ids, refreshed in Redis. */
  private readonly mine = new Map<string, Set<string>>();
  private readonly refreshTimer: NodeJS.Timeout;

  constructor(
    redisUrl: string,
    private readonly options: { keyPrefix: string; instanceId: string; log: Pick<Logger, 'warn'> },
  ) {
    const redis = new Redis(redisUrl, { commandTimeout: 500, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 2_000 });
    redis.on('error', () => {});
    redis.defineCommand('concordAcquireConnection', { numberOfKeys: 1, lua: ACQUIRE });
    this.redis = redis as Redis & ConnectionCommands;
    this.refreshTimer = setInterval(() => void this.refresh(), PLACE_TTL_MS / 3);
    this.refreshTimer.unref();
  }

  async acquire(userId: string, connectionId: string, max: number): Promise<boolean> {
    let acquired: boolean;
    try {
      const now = Date.now();
      acquired = (await this.redis.concordAcquireConnection(this.key(userId), now, now + PLACE_TTL_MS, max, this.member(connectionId))) === 1;
    } catch (error) {
      this.options.log.warn({ err: error }, 'connection counts: Redis unreachable, capping per process');
      acquired = await this.local.acquire(userId, connectionId, max);
    }
    if (acquired) this.mine.set(userId, (this.mine.get(userId) ?? new Set()).add(connectionId));
    return acquired;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    const held = this.mine.get(userId);
    if (!held?.delete(connectionId)) return;
    if (held.size === 0) this.mine.delete(userId);
    await this.local.release(userId, connectionId);
    // If this fails the place lapses by itself within PLACE_TTL_MS.
    await this.redis.zrem(this.key(userId), this.member(connectionId)).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    const pipeline = this.redis.pipeline();
    for (const [userId, ids] of this.mine) for (const id of ids) pipeline.zrem(this.key(userId), this.member(id));
    await pipeline.exec().catch(() => undefined);
    this.mine.clear();
    this.redis.disconnect();
  }

  private async refresh(): Promise<void> {
    if (this.mine.size === 0) return;
    const lapsesAt = Date.now() + PLACE_TTL_MS;
    const pipeline = this.redis.pipeline();
    for (const [userId, ids] of this.mine) {
      // Plain ZADD, not XX: a place swept while this process stalled is live again.
      for (const id of ids) pipeline.zadd(this.key(userId), lapsesAt, this.member(id));
      pipeline.pexpireat(this.key(userId), lapsesAt);
    }
    await pipeline.exec().catch(() => undefined);
  }

  private key(userId: string): string {
    return `${this.options.keyPrefix}sockets:${userId}`;
  }

  private member(connectionId: string): string {
    return `${this.options.instanceId}/${connectionId}`;
  }
}
