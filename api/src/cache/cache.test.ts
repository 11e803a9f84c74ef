import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { freePort } from '@concord/testkit/src/ports';
import { ApiMetrics } from '../metrics';
import { CachedLoader, MemoryCache, RedisCache, type Cache } from '.';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = pino({ level: 'silent' });
const prefix = `concord-cache-test:${randomBytes(6).toString('hex')}:`;

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.each([
  ['in-process', () => new MemoryCache()],
  ['Redis', () => new RedisCache(REDIS_URL, { keyPrefix: prefix })],
])('%s cache', (_name, make: () => Cache) => {
  let cache: Cache;
  beforeEach(() => {
    cache = make();
  });
  afterEach(() => cache.close());

  const key = () => `k:${randomBytes(4).toString('hex')}`;

  test('a miss, a fill, then a hit with an equal (not the same) value; null is a value', async () => {
    const k = key();
    const miss = await cache.lookup<{ a: number[] }>(k);
    expect(miss.hit).toBe(false);
    if (miss.hit) return;
    const value = { a: [1, 2] };
    await cache.fill(k, value, miss.token, 60);
    value.a.push(3);
    expect(await cache.lookup(k)).toEqual({ hit: true, value: { a: [1, 2] } });

    const n = key();
    const none = await cache.lookup(n);
    if (none.hit) throw new Error('expected a miss');
    await cache.fill(n, null, none.token, 60);
    expect(await cache.lookup(n)).toEqual({ hit: true, value: null });
  });

  test('invalidate drops the value, and a fill from a lookup before it is refused', async () => {
    const k = key();
    const early = await cache.lookup(k); // a reader starts loading the old value…
    if (early.hit) throw new Error('expected a miss');
    await cache.invalidate([k]); // …a writer commits and invalidates…
    await cache.fill(k, 'stale', early.token, 60); // …the reader's fill must not land.
    const after = await cache.lookup(k);
    expect(after.hit).toBe(false);
    if (after.hit) return;
    await cache.fill(k, 'fresh', after.token, 60);
    expect(await cache.lookup(k)).toEqual({ hit: true, value: 'fresh' });
    await cache.invalidate([k, key()]);
    expect((await cache.lookup(k)).hit).toBe(false);
  });

  test('values expire after their TTL', async () => {
    const k = key();
    const miss = await cache.lookup(k);
    if (miss.hit) throw new Error('expected a miss');
    await cache.fill(k, 1, miss.token, 1);
    expect((await cache.lookup(k)).hit).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await cache.lookup(k)).hit).toBe(false);
  });
});

test('the in-process cache stays bounded', async () => {
  const cache = new MemoryCache({ maxEntries: 3, maxGenerations: 4 });
  for (const k of ['a', 'b', 'c', 'd']) {
    const miss = await cache.lookup(k);
    if (!miss.hit) await cache.fill(k, k, miss.token, 60);
  }
  expect((await cache.lookup('a')).hit).toBe(false);
  expect((await cache.lookup('d')).hit).toBe(true);
  // Clearing the generations voids every outstanding fill rather than trusting it.
  const early = await cache.lookup('x');
  await cache.invalidate(['p', 'q', 'r', 's', 't']);
  if (!early.hit) await cache.fill('x', 'maybe stale', early.token, 60);
  expect((await cache.lookup('x')).hit).toBe(false);
});

describe('CachedLoader', () => {
  test('counts hits and misses per kind', async () => {
    const metrics = new ApiMetrics();
    const loader = new CachedLoader(new MemoryCache(), metrics, silent);
    let loads = 0;
    const load = async () => ({ n: (loads += 1) });
    expect(await loader.get('roles', 'r1', load)).toEqual({ n: 1 });
    expect(await loader.get('roles', 'r1', load)).toEqual({ n: 1 });
    await loader.invalidate(['r1']);
    expect(await loader.get('roles', 'r1', load)).toEqual({ n: 2 });
    const text = (await metrics.render()).body;
    expect(text).toMatch(/concord_cache_requests_total\{cache="roles",result="hit"\} 1/);
    expect(text).toMatch(/concord_cache_requests_total\{cache="roles",result="miss"\} 2/);
    expect(text).toMatch(/concord_cache_hit_ratio\{cache="roles"\} 0\.333/);
  });

  test('a Redis that is away costs the cache, not the request', async () => {
    const metrics = new ApiMetrics();
    const cache = new RedisCache(`redis://127.0.0.1:${await freePort()}`, { keyPrefix: prefix });
    try {
      const loader = new CachedLoader(cache, metrics, silent);
      const started = Date.now();
      expect(await loader.get('user', 'u1', async () => 'from the database')).toBe('from the database');
      await loader.invalidate(['u1']);
      expect(Date.now() - started).toBeLessThan(10_000);
      const text = (await metrics.render()).body;
      expect(text).toMatch(/concord_cache_errors_total\{operation="lookup"\} 1/);
      expect(text).toMatch(/concord_cache_errors_total\{operation="invalidate"\} 1/);
    } finally {
      await cache.close();
    }
  });
});
