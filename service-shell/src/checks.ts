import { Redis } from 'ioredis';
import type { ReadinessCheck } from './readiness';

/** A readiness check that Redis answers PING, on a small connection of its own; `close` ends it. */
export function redisReachable(redisUrl: string): { check: ReadinessCheck; close(): Promise<void> } {
  // No offline queue: while Redis is away a PING fails at once instead of waiting for it.
  const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, connectTimeout: 1_000, commandTimeout: 1_000, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined); // failures surface as failing checks
  return {
    async check() {
      if (redis.status === 'wait') await redis.connect();
      await redis.ping();
    },
    async close() {
      redis.disconnect();
    },
  };
}
