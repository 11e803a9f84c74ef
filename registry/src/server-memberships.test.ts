import { Redis } from 'ioredis';
import { RedisServerMemberships } from './server-memberships-redis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `concord-server-memberships-test:${process.pid}:${Date.now()}:`;
const memberships = new RedisServerMemberships(REDIS_URL, { keyPrefix: PREFIX });

afterAll(async () => {
  await memberships.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

test('a connect replaces what is remembered; joins and leaves while connected keep it current', async () => {
  await memberships.joined('u1', 'stale');
  await memberships.remember('u1', ['s1', 's2']);
  expect((await memberships.serversOf('u1')).sort()).toEqual(['s1', 's2']);
  await memberships.joined('u1', 's3');
  await memberships.left('u1', 's1');
  expect((await memberships.serversOf('u1')).sort()).toEqual(['s2', 's3']);
});

test('a user remembered with no servers, or never, has none; joining then counts', async () => {
  await memberships.remember('u2', []);
  expect(await memberships.serversOf('u2')).toEqual([]);
  expect(await memberships.serversOf('never-connected')).toEqual([]);
  await memberships.joined('u2', 's1');
  expect(await memberships.serversOf('u2')).toEqual(['s1']);
});

test('an unreachable Redis is UNAVAILABLE', async () => {
  const away = new RedisServerMemberships('redis://127.0.0.1:1', { keyPrefix: PREFIX });
  await expect(away.serversOf('u1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  await away.close();
});
