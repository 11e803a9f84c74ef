import { Redis } from 'ioredis';
import type { Cache, CacheLookup, FillToken } from './cache';

export interface RedisCacheOptions {
  /** The deployment's REDIS_KEY_PREFIX. Default `concord:`. */
  keyPrefix?: string;
}

/**
 * How long a key's generation outlives its last invalidation. A fill compares generations, so a
 * generation must not lapse between a lookup and its fill (a database read, well under a second);
 * an hour is far beyond that, and small next to the memory it costs.
 */
const GENERATION_TTL_SECONDS = 3_600;

/** SET only if the generation is still the one the lookup saw ('0' when there is none). */
const FILL = `
local generation = redis.call('GET', KEYS[2]) or '0'
if generation == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 0`;

/** KEYS alternate value key, generation key. */
const INVALIDATE = `
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
end
return 0`;

/**
 * The cluster cache: every API instance shares it, so an invalidation on one instance is seen by
 * all. Written for a single Redis (or a primary with replicas); the scripts touch several keys, so
 * Redis Cluster would need hash tags.
 */
export class RedisCache implements Cache {
  private readonly redis: Redis;
  private readonly valuePrefix: string;
  private readonly generationPrefix: string;

  constructor(redisUrl: string, options: RedisCacheOptions = {}) {
    // Fail fast rather than queue while Redis is away: callers fall back to the database. Lookups
    // made together (a permission check reads the server, its roles, its channels and the member)
    // go out as one pipeline: one write, one reply to wait for.
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 1_000, maxRetriesPerRequest: 1, disconnectTimeout: 200, enableAutoPipelining: true });
    this.redis.on('error', () => {});
    const prefix = options.keyPrefix ?? 'concord:';
    this.valuePrefix = `${prefix}cache:`;
    this.generationPrefix = `${prefix}cache-gen:`;
  }

  async lookup<T>(key: string): Promise<CacheLookup<T>> {
    const [json, generation] = await this.redis.mget(this.valuePrefix + key, this.generationPrefix + key);
    if (json !== null && json !== undefined) return { hit: true, value: JSON.parse(json) as T };
    return { hit: false, token: (generation ?? '0') as FillToken };
  }

  async fill<T>(key: string, value: T, token: FillToken, ttlSeconds: number): Promise<void> {
    await this.redis.eval(FILL, 2, this.valuePrefix + key, this.generationPrefix + key, token, JSON.stringify(value), Math.max(1, Math.round(ttlSeconds)));
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const redisKeys = [...new Set(keys)].flatMap((key) => [this.valuePrefix + key, this.generationPrefix + key]);
    await this.redis.eval(INVALIDATE, redisKeys.length, ...redisKeys, GENERATION_TTL_SECONDS);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
