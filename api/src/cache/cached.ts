import type { Logger } from 'pino';
import type { ApiMetrics } from '../metrics';
import { NO_FILL, type Cache, type CacheLookup } from './cache';

/** How long a value may live without being invalidated: a backstop, since every write invalidates. */
export const DEFAULT_CACHE_TTL_SECONDS = 300;

/**
 * Read-through on top of a Cache, counting hits and misses per kind of data. A cache that fails
 * (Redis away) never fails the request: reads go to the database, and a failed invalidation is
 * logged and counted (the entry then lives until its TTL at most).
 */
export class CachedLoader {
  constructor(
    private readonly cache: Cache,
    private readonly metrics: ApiMetrics,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly ttlSeconds: number = DEFAULT_CACHE_TTL_SECONDS,
  ) {}

  /** The cached value of `key`, or `load()`'s (stored for next time). `load` must not return undefined. */
  async get<T>(kind: string, key: string, load: () => Promise<T>): Promise<T> {
    let found: CacheLookup<T>;
    try {
      found = await this.cache.lookup<T>(key);
    } catch (error) {
      this.failed('lookup', error);
      found = { hit: false, token: NO_FILL };
    }
    this.metrics.cacheLookup(kind, found.hit);
    if (found.hit) return found.value;
    const value = await load();
    if (found.token !== NO_FILL) {
      await this.cache.fill(key, value, found.token, this.ttlSeconds).catch((error: unknown) => this.failed('fill', error));
    }
    return value;
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.cache.invalidate(keys);
    } catch (first) {
      // One retry: a blip should not leave stale permissions around for a whole TTL.
      try {
        await this.cache.invalidate(keys);
      } catch {
        this.failed('invalidate', first);
      }
    }
  }

  private failed(operation: 'lookup' | 'fill' | 'invalidate', error: unknown): void {
    this.metrics.cacheErrors.inc({ operation });
    this.logger.warn({ err: error, operation }, 'cache operation failed');
  }
}
