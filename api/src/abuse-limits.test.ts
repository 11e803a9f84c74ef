/**
 * Abuse caps of the API over real HTTP on a real PostgreSQL and Redis: servers per user (owned
 * and joined), server creation rate, and password guessing that cannot lock the owner out.
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SessionResponse } from '@concord/protocol';
import { expectError, expectStatus, startGuildApi, type GuildTestApi } from '@concord/testkit/src/api';
import { createUser, GENEROUS_LIMITS, sessionToken, startChatApi } from '@concord/testkit/src/chat-api';
import { call } from '@concord/testkit/src/http';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { loadSigningKeys } from './keys';
import type { RunningApi } from './server';

const PASSWORD = 'correct horse battery';
const started: { close(): Promise<void> }[] = [];

afterAll(async () => {
  for (const closable of started.reverse()) await closable.close();
});

async function guildApi(env: Record<string, string> = {}): Promise<GuildTestApi> {
  const api = await startGuildApi({ env });
  started.push(api);
  return api;
}

describe('servers per user', () => {
  test('110 servers in a row: the first 50 (OWNED_SERVERS_PER_USER) are made, the rest refused with the reason, none stored', async () => {
    const t = await guildApi();
    const owner = await t.signUp('hoarder');
    const statuses: number[] = [];
    let refusal: { code: string; message: string } | undefined;
    for (let i = 0; i < 110; i++) {
      const reply = await t.call('POST', '/api/servers', { token: owner.token, json: { name: `server ${i}` } });
      statuses.push(reply.status);
      if (reply.status !== 201) refusal ??= expectError(reply, 403, 'FORBIDDEN');
    }
    expect(statuses).toEqual([...Array(50).fill(201), ...Array(60).fill(403)]);
    expect(refusal!.message).toBe('you own 50 servers, the most one account may own (50): delete one first');
    const listed = expectStatus(await t.call<unknown[]>('GET', '/api/users/@me/servers', { token: owner.token }), 200);
    expect(listed).toHaveLength(50);
    // Deleting one makes room for one.
    expectStatus(await t.call('DELETE', `/api/servers/${(listed[0] as { id: string }).id}`, { token: owner.token }), 204);
    expectStatus(await t.call('POST', '/api/servers', { token: owner.token, json: { name: 'again' } }), 201);
  }, 120_000);

  test('joining counts too (SERVERS_PER_USER), and concurrent creates cannot overshoot the cap together', async () => {
    const t = await guildApi({ SERVERS_PER_USER: '4', OWNED_SERVERS_PER_USER: '2' });
    const [host, other, joiner] = [await t.signUp('host'), await t.signUp('other'), await t.signUp('joiner')];
    const create = async (token: string, name: string) => expectStatus(await t.call('POST', '/api/servers', { token, json: { name } }), 201).id as string;
    const invite = async (token: string, serverId: string) => expectStatus(await t.call('POST', `/api/servers/${serverId}/invites`, { token, json: {} }), 201).code as string;

    const race = await Promise.all(Array.from({ length: 12 }, (_, i) => t.call('POST', '/api/servers', { token: host.token, json: { name: `race ${i}` } })));
    expect(race.map((reply) => reply.status).sort()).toEqual([...Array(2).fill(201), ...Array(10).fill(403)]);
    const hostServers = race.filter((reply) => reply.status === 201).map((reply) => (reply.body as { id: string }).id);
    const otherServer = await create(other.token, 'elsewhere');

    // The joiner owns 2 and joins the host's 2: 4 memberships, the cap.
    await create(joiner.token, 'mine 1');
    await create(joiner.token, 'mine 2');
    for (const serverId of hostServers) expectStatus(await t.call('POST', `/api/invites/${await invite(host.token, serverId)}/accept`, { token: joiner.token }), 200);
    const code = await invite(other.token, otherServer);
    const refused = expectError(await t.call('POST', `/api/invites/${code}/accept`, { token: joiner.token }), 403, 'FORBIDDEN');
    expect(refused.message).toBe('you are in 4 servers, the most one account may be in (4): leave one first');
    const members = expectStatus(await t.call<unknown[]>('GET', `/api/servers/${otherServer}/members`, { token: other.token }), 200);
    expect(members).toHaveLength(1);

    // Leaving one makes room.
    expectStatus(await t.call('DELETE', `/api/servers/${hostServers[0]}/members/@me`, { token: joiner.token }), 204);
    expectStatus(await t.call('POST', `/api/invites/${code}/accept`, { token: joiner.token }), 200);
  });
});

describe('server creation rate', () => {
  let testDb: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'concord-abuse-'));
  });

  afterAll(async () => {
    await testDb?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('SERVER_CREATE_RATE_LIMIT holds across two instances sharing Redis, with Retry-After', async () => {
    const keys = await loadSigningKeys({ dataDir });
    const redisKeyPrefix = `concord-test:abuse:${process.pid}:${Date.now()}:`;
    const options = { databaseUrl: testDb.url, keys, dataDir, redisKeyPrefix, rateLimitRules: { ...GENEROUS_LIMITS, serverCreateUser: { limit: 3, windowMs: 60_000 } } };
    const apis: RunningApi[] = [await startChatApi(options), await startChatApi(options)];
    started.push(...apis);
    const db = apis[0]!.deps.db;
    const token = await sessionToken(db, keys, await createUser(db, 'burst'));
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 5; i++) {
      const reply = await call(apis[i % 2]!.url, 'POST', '/api/servers', { token, json: { name: `burst ${i}` } });
      statuses.push(reply.status);
      if (reply.status === 429) limited ??= reply;
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    expect(limited!.body).toMatchObject({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('creating servers') } });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const another = await sessionToken(db, keys, await createUser(db, 'calm'));
    expect((await call(apis[0]!.url, 'POST', '/api/servers', { token: another, json: { name: 'calm' } })).status).toBe(201);
  });
});

/** A sign-in from a chosen loopback source address (127.0.0.x), as a client elsewhere would come: no proxy headers involved. */
function signInFrom(t: GuildTestApi, sourceAddress: string, username: string, password: string): Promise<{ status: number; retryAfter: string | undefined; body: any }> {
  const url = new URL('/api/auth/local/signin', t.url);
  const payload = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress: sourceAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('password guessing', () => {
  test("a stranger's 20 wrong guesses from one address do not stop the owner signing in from another", async () => {
    // The default limits (AUTH_RATE_LIMIT 10 a minute per IP); before, ten guesses locked the account for everyone.
    const t = await guildApi({ AUTH_RATE_LIMIT: '10' });
    const owner = await t.signUp('target');
    const { username } = (await t.call('GET', '/api/me', { token: owner.token })).body as { username: string };
    const guesses: number[] = [];
    for (let i = 0; i < 20; i++) guesses.push((await signInFrom(t, '127.0.0.2', username, `guess ${i}`)).status);
    expect(guesses).toEqual([...Array(5).fill(401), ...Array(15).fill(429)]);
    const refused = await signInFrom(t, '127.0.0.2', username, PASSWORD);
    expect({ status: refused.status, code: refused.body?.error?.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);

    const owners = await signInFrom(t, '127.0.0.3', username, PASSWORD);
    expect(owners.status).toBe(200);
    expect(SessionResponse.parse(owners.body).user.id).toBe(owner.id);
  });

  test('guesses from many addresses: the account then only admits addresses it signed in from before', async () => {
    const t = await guildApi({ AUTH_RATE_LIMIT: '10' });
    const owner = await t.signUp('popular');
    const { username } = (await t.call('GET', '/api/me', { token: owner.token })).body as { username: string };
    expect((await signInFrom(t, '127.0.0.4', username, PASSWORD)).status).toBe(200);

    // Five addresses, four wrong guesses each: 20 for the account (ACCOUNT_SIGN_IN_FAILURE_LIMIT), none over its pair limit.
    for (let a = 10; a < 15; a++) for (let i = 0; i < 4; i++) expect((await signInFrom(t, `127.0.0.${a}`, username, `guess ${a}.${i}`)).status).toBe(401);
    const fresh = await signInFrom(t, '127.0.0.20', username, PASSWORD);
    expect({ status: fresh.status, code: fresh.body?.error?.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect(fresh.body.error.message).toMatch(/sign in from a device that has signed in before/);

    const known = await signInFrom(t, '127.0.0.4', username, PASSWORD);
    expect(known.status).toBe(200);
    expect(SessionResponse.parse(known.body).user.id).toBe(owner.id);
    // Other accounts are not affected by this one's attack.
    const bystander = await t.signUp('bystander');
    const bystanderName = ((await t.call('GET', '/api/me', { token: bystander.token })).body as { username: string }).username;
    expect((await signInFrom(t, '127.0.0.20', bystanderName, PASSWORD)).status).toBe(200);
  });
});
