import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Message } from '@concord/protocol';
import { addMember, createChannel, createServerWithChannel, createUser, GENEROUS_LIMITS, sessionToken, startChatApi, type SeededServer } from '@concord/testkit/src/chat-api';
import { call, type Reply } from '@concord/testkit/src/http';
import { freePort } from '@concord/testkit/src/ports';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { REDIS_URL } from '@concord/testkit/src/redis';
import { sleep } from '@concord/testkit/src/wait';
import { loadSigningKeys, type SigningKeys } from '../keys';
import { RedisRateLimitStore } from '../rate-limit-redis';
import { loadConfig } from '../config';
import { ApiRateLimits, DEFAULT_RATE_LIMITS, type RateLimitRules } from '../rate-limits';
import type { RunningApi } from '../server';

/*
 * Limits counted in Redis hold for the cluster, not per instance: every test runs two API
 * instances on one database and one Redis key prefix and spreads its requests over both.
 */

let testDb: TestDatabase;
let dataDir: string;
let keys: SigningKeys;
const running: RunningApi[] = [];
const prefixes: string[] = [];
let setups = 0;

beforeAll(async () => {
  testDb = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-rate-limits-'));
  keys = await loadSigningKeys({ dataDir });
});

afterAll(async () => {
  for (const api of running.splice(0)) await api.close();
  await testDb?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  for (const prefix of prefixes) {
    const found = await redis.keys(`${prefix}*`);
    if (found.length > 0) await redis.del(...found);
  }
  await redis.quit();
});

/** Two API instances sharing one Redis key prefix (a cluster of two), with these limits. */
async function cluster(rules: Partial<RateLimitRules>, env: Record<string, string> = {}): Promise<[RunningApi, RunningApi]> {
  const redisKeyPrefix = `concord-test:limits:${process.pid}:${Date.now()}:${++setups}:`;
  prefixes.push(redisKeyPrefix);
  const options = { databaseUrl: testDb.url, keys, dataDir, redisKeyPrefix, rateLimitRules: { ...GENEROUS_LIMITS, ...rules }, env };
  const pair: [RunningApi, RunningApi] = [await startChatApi(options), await startChatApi(options)];
  running.push(...pair);
  return pair;
}

interface Members extends SeededServer {
  ids: string[];
  tokens: string[];
}

async function members(api: RunningApi, count: number): Promise<Members> {
  const db = api.deps.db;
  const ids = [await createUser(db, 'owner')];
  const guild = await createServerWithChannel(db, ids[0]!);
  for (let i = 1; i < count; i++) {
    ids.push(await createUser(db, `member${i}`));
    await addMember(db, guild.serverId, ids[i]!);
  }
  return { ...guild, ids, tokens: await Promise.all(ids.map((id) => sessionToken(db, keys, id))) };
}

const send = (api: RunningApi, token: string, channelId: string, content: string, nonce?: string) =>
  call<Message>(api.url, 'POST', `/api/channels/${channelId}/messages`, { token, json: { content, ...(nonce && { nonce }) } });

function expectLimited(reply: Reply, maxSeconds: number): void {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  const retryAfter = Number(reply.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
}

const statuses = (replies: Reply[]) => replies.map((r) => r.status);

test('messages per user: the limit holds over both instances together, then 429 with Retry-After', async () => {
  const apis = await cluster({ messageUser: { limit: 5, windowMs: 60_000 } });
  const guild = await members(apis[0], 2);
  const replies: Reply[] = [];
  for (let i = 0; i < 8; i++) replies.push(await send(apis[i % 2]!, guild.tokens[1]!, guild.channelId, `message ${i}`));
  expect(statuses(replies)).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
  for (const reply of replies.slice(5)) expectLimited(reply, 60);
  // Another user is not held back by the first one's limit.
  expect((await send(apis[1], guild.tokens[0]!, guild.channelId, 'someone else')).status).toBe(201);
});

test('messages per IP: many users from one address share its limit across instances', async () => {
  const apis = await cluster({ messageUser: { limit: 5, windowMs: 60_000 }, messageIp: { limit: 8, windowMs: 60_000 } });
  const guild = await members(apis[0], 4);
  const replies: Reply[] = [];
  for (let i = 0; i < 12; i++) replies.push(await send(apis[i % 2]!, guild.tokens[i % 4]!, guild.channelId, `message ${i}`));
  expect(statuses(replies).filter((s) => s === 201)).toHaveLength(8);
  expect(statuses(replies).slice(8)).toEqual([429, 429, 429, 429]);
  for (const reply of replies.slice(8)) expectLimited(reply, 60);
});

test('duplicate flood: the same text (case and spacing aside) more than N times in the window is 429; other text, another channel or a retry is not', async () => {
  const apis = await cluster({ duplicateMessage: { limit: 3, windowMs: 30_000 } });
  const guild = await members(apis[0], 2);
  const token = guild.tokens[1]!;
  const second = await createChannel(apis[0].deps.db, guild.serverId);
  const variants = ['Buy now!', 'buy now!', '  BUY   now! ', 'buy NOW!'];
  const replies: Reply[] = [];
  for (const [i, text] of variants.entries()) replies.push(await send(apis[i % 2]!, token, guild.channelId, text, `dup-${i}`));
  expect(statuses(replies)).toEqual([201, 201, 201, 429]);
  expectLimited(replies[3]!, 30);
  expect((replies[3]!.body as { error: { message: string } }).error.message).toMatch(/duplicate message: the same text at most 3 times in 30 s/);
  // A retry of an accepted send is not a fourth copy.
  const retry = await send(apis[1], token, guild.channelId, 'buy now!', 'dup-1');
  expect({ status: retry.status, id: retry.body.id }).toEqual({ status: 200, id: (replies[1]!.body as Message).id });
  expect((await send(apis[0], token, guild.channelId, 'something else')).status).toBe(201);
  expect((await send(apis[1], token, second, 'buy now!')).status).toBe(201);
  expect((await send(apis[0], guild.tokens[0]!, guild.channelId, 'buy now!')).status).toBe(201);
});

test('creating invites and joining servers are limited per user across instances', async () => {
  const apis = await cluster({ inviteUser: { limit: 3, windowMs: 60_000 }, joinUser: { limit: 2, windowMs: 60_000 } });
  const db = apis[0].deps.db;
  const owner = await createUser(db, 'inviter');
  const ownerToken = await sessionToken(db, keys, owner);
  const joiner = await sessionToken(db, keys, await createUser(db, 'joiner'));
  const servers = [await createServerWithChannel(db, owner), await createServerWithChannel(db, owner), await createServerWithChannel(db, owner)];

  const invites: Reply<{ code: string }>[] = [];
  for (let i = 0; i < 5; i++) invites.push(await call(apis[i % 2]!.url, 'POST', `/api/servers/${servers[i % 3]!.serverId}/invites`, { token: ownerToken, json: {} }));
  expect(statuses(invites)).toEqual([201, 201, 201, 429, 429]);
  expectLimited(invites[3]!, 60);

  const joins: Reply[] = [];
  for (let i = 0; i < 3; i++) joins.push(await call(apis[i % 2]!.url, 'POST', `/api/invites/${invites[i]!.body.code}/accept`, { token: joiner }));
  expect(statuses(joins).slice(0, 2).every((s) => s >= 200 && s < 300)).toBe(true);
  expectLimited(joins[2]!, 60);
});

test('sign-in attempts (AUTH_RATE_LIMIT) are counted in Redis too: the limit holds across instances', async () => {
  const apis = await cluster({}, { AUTH_RATE_LIMIT: '4' });
  const replies: Reply[] = [];
  for (let i = 0; i < 6; i++) {
    replies.push(await call(apis[i % 2]!.url, 'POST', '/api/auth/local/signin', { json: { username: 'nobody-here', password: 'wrong password' } }));
  }
  expect(statuses(replies)).toEqual([401, 401, 401, 401, 429, 429]);
  expectLimited(replies[4]!, 60);
});

describe('RedisRateLimitStore', () => {
  test('a window ends after windowMs, and Retry-After counts down to it', async () => {
    const store = new RedisRateLimitStore(REDIS_URL, { keyPrefix: `concord-test:limits:${process.pid}:unit:` });
    prefixes.push(`concord-test:limits:${process.pid}:unit:`);
    try {
      expect(await store.ready()).toBe(true);
      const limiter = store.limiter('short', 2, 400);
      const key = `k-${Date.now()}`;
      expect(await limiter.consume(key)).toEqual({ allowed: true });
      expect(await limiter.consume(key)).toEqual({ allowed: true });
      expect(await limiter.consume(key)).toEqual({ allowed: false, retryAfterSeconds: 1 });
      await sleep(450);
      expect(await limiter.consume(key)).toEqual({ allowed: true });
      const long = store.limiter('long', 1, 90_000);
      await long.consume(key);
      expect(await long.consume(key)).toEqual({ allowed: false, retryAfterSeconds: 90 });
    } finally {
      await store.close();
    }
  });

  test('with Redis unreachable, limits are counted in the process instead, without waiting', async () => {
    const store = new RedisRateLimitStore(`redis://127.0.0.1:${await freePort()}`);
    try {
      expect(await store.ready(200)).toBe(false);
      const limiter = store.limiter('offline', 2, 60_000);
      const started = Date.now();
      const decisions = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')];
      expect(Date.now() - started).toBeLessThan(500);
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    } finally {
      await store.close();
    }
  });

  test('ApiRateLimits in one process: same rules, same answers', async () => {
    const limits = ApiRateLimits.inMemory({ ...DEFAULT_RATE_LIMITS, joinIp: { limit: 1, windowMs: 60_000 } });
    await limits.enforce('join', { userId: 'a', ip: '10.0.0.1' });
    await expect(limits.enforce('join', { userId: 'b', ip: '10.0.0.1' })).rejects.toMatchObject({ code: 'RATE_LIMITED', headers: { 'Retry-After': '60' } });
    await limits.enforce('join', { userId: 'b', ip: '10.0.0.2' });
  });

  test('rules from the environment: count/window, each unset one at its default, a bad one refused at start', () => {
    expect(loadConfig({ MESSAGE_RATE_LIMIT: '5/10s', JOIN_IP_RATE_LIMIT: '100/h', DUPLICATE_MESSAGE_LIMIT: ' 2 / 1m ' }).rateLimits).toEqual({
      messageUser: { limit: 5, windowMs: 10_000 },
      joinIp: { limit: 100, windowMs: 3_600_000 },
      duplicateMessage: { limit: 2, windowMs: 60_000 },
    });
    expect(loadConfig({}).rateLimits).toEqual({});
    for (const bad of ['10', '0/10s', '10/0s', '10/10', 'ten/s', '10/10d']) {
      expect(() => loadConfig({ MESSAGE_RATE_LIMIT: bad })).toThrow(/MESSAGE_RATE_LIMIT must be a count per window/);
    }
  });
});
