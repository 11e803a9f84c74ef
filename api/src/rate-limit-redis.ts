import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { InMemoryRateLimiter, type RateCount, type RateDecision, type RateLimiter } from './rate-limit';

/**
 * One fixed window per key, as InMemoryRateLimiter keeps them, but in Redis so that every API
 * instance counts into the same window. The window starts with the key's first attempt and the
 * key expires with it. Attempts past the limit still count (INCR), which changes nothing: the
 * window's end, and so the answer, stays the same.
 *
 * Several keys at once (KEYS[i] with window ARGV[i] ms), so that what one request counts in every
 * limit it is subject to is one round trip. Returns count, milliseconds left in the window, count,
 * …, in KEYS order.
 */
const CONSUME_MANY = `
local replies = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  replies[2 * i - 1] = count
  replies[2 * i] = ttl
end
return replies
`;

/** { count (0 if none), milliseconds left in the window (negative if none) }, counting nothing. */
const PEEK = `
return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]) }
`;

interface RateLimitCommands {
  concordRateLimitMany(keyCount: number, ...keysThenWindows: (string | number)[]): Promise<number[]>;
  concordRatePeek(key: string): Promise<[number, number]>;
}

export interface RedisRateLimitStoreOptions {
  /** The deployment's REDIS_KEY_PREFIX; rate-limit keys live under `<prefix>rate:`. Default `concord:`. */
  keyPrefix?: string;
  /** Default 500 ms: a Redis slower than this counts as down for that attempt. */
  commandTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

/** How often at most the "Redis unreachable, counting locally" warning is logged. */
const WARN_EVERY_MS = 30_000;

/**
 * The Redis connection of an API process's rate limiters; `limiter(name, limit, windowMs)` makes
 * one RateLimiter per policy (messages, invites, sign-in, …) on it.
 *
 * While Redis cannot be reached an attempt is not refused, and not let through unchecked either:
 * each limiter counts in this process's memory instead (the same limits, per instance rather than
 * cluster-wide) until Redis answers again. Requests never wait on a down Redis longer than the
 * command timeout; with no connection at all they do not wait (no offline queue).
 */
export class RedisRateLimitStore {
  private readonly redis: Redis & RateLimitCommands;
  private readonly keyPrefix: string;
  private lastWarnAt = -Infinity;
  /** Attempts counted in this turn of the event loop, sent together (see `count`). */
  private batch: { key: string; windowMs: number; resolve: (reply: [number, number]) => void; reject: (error: unknown) => void }[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    redisUrl: string,
    private readonly options: RedisRateLimitStoreOptions = {},
  ) {
    const redis = new Redis(redisUrl, {
      connectTimeout: 2_000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      disconnectTimeout: 200,
    });
    redis.on('error', () => {});
    redis.defineCommand('concordRateLimitMany', { lua: CONSUME_MANY });
    redis.defineCommand('concordRatePeek', { numberOfKeys: 1, lua: PEEK });
    this.redis = redis as Redis & RateLimitCommands;
    this.keyPrefix = `${options.keyPrefix ?? 'concord:'}rate:`;
  }

  /** At most `limit` attempts per key per `windowMs`, counted across every instance on this Redis. */
  limiter(name: string, limit: number, windowMs: number): RateLimiter {
    if (!/^[a-z0-9_-]+$/i.test(name)) throw new TypeError(`rate limiter name ${name} must be letters, digits, _ or -`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError('windowMs must be a positive integer');
    const fallback = new InMemoryRateLimiter(limit, windowMs);
    const prefix = `${this.keyPrefix}${name}:`;
    return {
      consume: async (key: string): Promise<RateDecision> => {
        let reply: [number, number];
        try {
          reply = await this.count(prefix + key, windowMs);
        } catch (error) {
          this.warnUnreachable(error);
          return fallback.consume(key);
        }
        const [count, ttl] = reply.map(Number) as [number, number];
        if (count <= limit) return { allowed: true };
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
      },
      peek: async (key: string): Promise<RateCount> => {
        let reply: [number, number];
        try {
          reply = await this.redis.concordRatePeek(prefix + key);
        } catch (error) {
          this.warnUnreachable(error);
          return fallback.peek(key);
        }
        const [count, ttl] = reply.map(Number) as [number, number];
        return ttl > 0 ? { count, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) } : { count: 0, retryAfterSeconds: 0 };
      },
    };
  }

  /**
   * Counts one attempt at `key`. Every attempt counted in the same turn of the event loop goes to
   * Redis in one script call: a chat message's per-user, per-IP and duplicate limits are one round
   * trip, not three.
   */
  private count(key: string, windowMs: number): Promise<[number, number]> {
    return new Promise((resolve, reject) => {
      if (this.batch.push({ key, windowMs, resolve, reject }) === 1) queueMicrotask(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    this.redis.concordRateLimitMany(batch.length, ...batch.map((attempt) => attempt.key), ...batch.map((attempt) => attempt.windowMs)).then(
      (replies) => batch.forEach((attempt, i) => attempt.resolve([Number(replies[2 * i]), Number(replies[2 * i + 1])])),
      (error: unknown) => batch.forEach((attempt) => attempt.reject(error)),
    );
  }

  /**
   * Resolves once connected, or false after `timeoutMs` (Redis down at start: the limiters count
   * locally meanwhile, and switch to Redis when it connects).
   */
  async ready(timeoutMs = 2_000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (connected: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(connected);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  close(): Promise<void> {
    return (this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    ));
  }

  private warnUnreachable(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    this.options.logger?.warn({ err: error }, 'rate-limit Redis unreachable: counting in this process until it answers');
  }
}
