import { ProtocolError } from '@concord/protocol';
import { Redis } from 'ioredis';

export interface RedisServerMembershipsOptions {
  /** The deployment's REDIS_KEY_PREFIX, shared by signaling (which writes and reads) and the API (which keeps it current). Default `concord:`. */
  keyPrefix?: string;
}

/**
 * How long a user's remembered servers outlive their last connect. A socket connected for longer
 * than this and whose signaling process then crashes goes offline unannounced (pages that load
 * afterwards still read the right status from the presence store).
 */
const REMEMBERED_FOR_MS = 7 * 24 * 3_600_000;

/**
 * The servers of connected users, remembered in Redis (`<prefix>server-memberships:<userId>`, a
 * set), so that any signaling process can announce that a crashed one's users went offline: it
 * has no session token to ask the API with. Signaling records the API's answer when a socket
 * connects; the API adds and removes servers as memberships change, as it moves the user's sockets
 * between server rooms.
 */
export class RedisServerMemberships {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, options: RedisServerMembershipsOptions = {}) {
    // Fail fast, as the presence store's client: a connect or an announcement must not queue.
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    this.redis.on('error', () => {});
    this.prefix = `${options.keyPrefix ?? 'concord:'}server-memberships:`;
  }

  /** Replaces what is remembered of the user: the API's answer at a connect. */
  async remember(userId: string, serverIds: readonly string[]): Promise<void> {
    const key = this.prefix + userId;
    const batch = this.redis.multi().del(key);
    if (serverIds.length > 0) batch.sadd(key, ...serverIds).pexpire(key, REMEMBERED_FOR_MS);
    await this.run('remembering servers', () => batch.exec());
  }

  /**
   * A membership begun. Made whether or not the user is remembered (one remembered with no servers
   * has no key); a user who is not connected gets a key that their next connect replaces.
   */
  async joined(userId: string, serverId: string): Promise<void> {
    const key = this.prefix + userId;
    await this.run('adding a server', () => this.redis.multi().sadd(key, serverId).pexpire(key, REMEMBERED_FOR_MS).exec());
  }

  async left(userId: string, serverId: string): Promise<void> {
    await this.run('removing a server', () => this.redis.srem(this.prefix + userId, serverId));
  }

  /** The remembered servers of the user; none if the user was never remembered (or it expired). */
  async serversOf(userId: string): Promise<string[]> {
    return this.run('reading servers', () => this.redis.smembers(this.prefix + userId));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `${what}: ${(error as Error).message}`);
    }
  }
}
