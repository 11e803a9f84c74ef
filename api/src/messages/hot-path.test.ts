import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Permission, DEFAULT_EVERYONE_PERMISSIONS, type Message } from '@concord/protocol';
import { openTestDb, seedServerWithMembers, startChatApi } from '@concord/testkit/src/chat-api';
import { call } from '@concord/testkit/src/http';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { ServiceProcess } from '@concord/testkit/src/processes';
import { deleteKeys } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';
import type { Database } from '../db/database';
import { loadSigningKeys, type SigningKeys } from '../keys';
import type { RunningApi } from '../server';

/*
 * What the message path's shortcuts (verified tokens remembered, cached sessions and permissions,
 * one Redis round trip for the limits, a prepared INSERT) must not change: a signed-out session and
 * a removed permission act on the very next message, on every instance; every acknowledged message
 * is stored, in an order consistent with the acknowledgements, also when the API is killed mid-burst.
 */

let dataDir: string;
let keys: SigningKeys;
let testDb: TestDatabase;
let db: Database;
const redisKeyPrefix = `concord-hot-path-test:${process.pid}:${randomBytes(3).toString('hex')}:`;
const running: RunningApi[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-hot-path-'));
  const privateKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  keys = await loadSigningKeys({ dataDir, privateKeyPem });
  testDb = await createTestDatabase();
  db = await openTestDb(testDb.url);
}, 60_000);

afterAll(async () => {
  for (const api of running.splice(0)) await api.close();
  await db?.close();
  await testDb?.drop();
  await deleteKeys(redisKeyPrefix).catch(() => undefined);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Two instances of one cluster: the same database, Redis (cache, limits) and signing key. */
async function cluster(): Promise<[RunningApi, RunningApi]> {
  const start = async () => {
    const api = await startChatApi({ databaseUrl: testDb.url, keys, dataDir, redisKeyPrefix });
    running.push(api);
    return api;
  };
  return [await start(), await start()];
}

const seed = (members: number) => seedServerWithMembers(db, keys, members);

const send = (api: RunningApi | string, channelId: string, token: string, content: string) =>
  call<Message>(typeof api === 'string' ? api : api.url, 'POST', `/api/channels/${channelId}/messages`, { token, json: { content } });

/** Messages to warm every cache the path has (token, session, permissions) on both instances. */
async function warm(apis: RunningApi[], channelId: string, token: string): Promise<void> {
  for (const api of apis) for (let i = 0; i < 3; i++) expect((await send(api, channelId, token, `warm ${api.url} ${i}`)).status).toBe(201);
}

test('a session signed out on one instance is refused on the next message, on both instances, despite every cache being warm', async () => {
  const apis = await cluster();
  const guild = await seed(2);
  const [, member] = guild.tokens;
  await warm(apis, guild.channelId, member!);

  expect((await call(apis[0].url, 'POST', '/api/auth/sign-out', { token: member })).status).toBe(204);
  for (const api of apis) expect((await send(api, guild.channelId, member!, 'after signing out')).status).toBe(401);
  const { rows } = await db.query('SELECT 1 FROM messages WHERE channel_id = $1 AND content = $2', [guild.channelId, 'after signing out']);
  expect(rows).toHaveLength(0);
}, 60_000);

test('a permission taken away on one instance refuses the next message on the other: role, member overwrite, membership', async () => {
  const apis = await cluster();
  const guild = await seed(2);
  const [owner, member] = guild.tokens;
  const everyone = (permissions: number) => call(apis[0].url, 'PATCH', `/api/servers/${guild.serverId}/roles/${guild.everyoneRoleId}`, { token: owner, json: { permissions } });

  await warm(apis, guild.channelId, member!);
  expect((await everyone(DEFAULT_EVERYONE_PERMISSIONS & ~Permission.SEND_MESSAGES)).status).toBe(200);
  expect((await send(apis[1], guild.channelId, member!, 'role taken away')).status).toBe(403);
  // Given back: as immediate.
  expect((await everyone(DEFAULT_EVERYONE_PERMISSIONS)).status).toBe(200);
  expect((await send(apis[1], guild.channelId, member!, 'role given back')).status).toBe(201);

  await warm(apis, guild.channelId, member!);
  const overwrite = await call(apis[0].url, 'PUT', `/api/channels/${guild.channelId}/overwrites/member/${guild.userIds[1]}`, {
    token: owner,
    json: { allow: 0, deny: Permission.SEND_MESSAGES },
  });
  expect(overwrite.status).toBe(200);
  expect((await send(apis[1], guild.channelId, member!, 'overwrite denies')).status).toBe(403);
  expect((await call(apis[0].url, 'DELETE', `/api/channels/${guild.channelId}/overwrites/member/${guild.userIds[1]}`, { token: owner })).status).toBe(204);

  await warm(apis, guild.channelId, member!);
  expect((await call(apis[0].url, 'DELETE', `/api/servers/${guild.serverId}/members/${guild.userIds[1]}`, { token: owner })).status).toBe(204);
  expect((await send(apis[1], guild.channelId, member!, 'kicked')).status).toBe(404);

  const { rows } = await db.query<{ content: string }>('SELECT content FROM messages WHERE channel_id = $1 AND content = ANY($2)', [
    guild.channelId,
    ['role taken away', 'overwrite denies', 'kicked'],
  ]);
  expect(rows).toEqual([]);
}, 90_000);

interface Sent {
  sender: number;
  index: number;
  startedAt: number;
  ackedAt: number;
  id: string;
}

/** `senders` loops, each sending `perSender` messages in turn into the channel; the 201s, timed. */
async function burst(url: string, channelId: string, tokens: string[], perSender: number, stop?: () => boolean, sent: Sent[] = []): Promise<Sent[]> {
  await Promise.all(
    tokens.map(async (token, sender) => {
      for (let index = 0; index < perSender && !stop?.(); index++) {
        const startedAt = performance.now();
        const reply = await send(url, channelId, token, `burst ${sender}:${index}`).catch(() => undefined);
        if (reply?.status === 201) sent.push({ sender, index, startedAt, ackedAt: performance.now(), id: reply.body.id });
        else if (!stop) throw new Error(`sender ${sender} message ${index}: ${reply?.status} ${JSON.stringify(reply?.body)}`);
      }
    }),
  );
  return sent;
}

test('a concurrent burst from several senders into one channel: every 201 is stored, and the channel order agrees with the acknowledgements', async () => {
  const [api] = await cluster();
  const guild = await seed(6);
  const sent = await burst(api.url, guild.channelId, guild.tokens, 25);
  expect(sent).toHaveLength(6 * 25);

  const { rows } = await db.query<{ id: string; content: string }>('SELECT id, content FROM messages WHERE channel_id = $1 ORDER BY id', [guild.channelId]);
  expect(rows.map((row) => row.id).sort()).toEqual(sent.map((s) => s.id).sort());
  const position = new Map(rows.map((row, i) => [row.id, i]));
  for (const s of sent) expect(rows[position.get(s.id)!]!.content).toBe(`burst ${s.sender}:${s.index}`);
  // Each sender's messages in the order sent; and a message acknowledged before another was sent is before it in the channel.
  const violations = sent.flatMap((a) => sent.filter((b) => a.ackedAt < b.startedAt && position.get(a.id)! > position.get(b.id)!).map((b) => `${a.sender}:${a.index} before ${b.sender}:${b.index}`));
  expect(violations).toEqual([]);
}, 90_000);

test('kill -9 of the API process during a burst: every acknowledged message is in the database', async () => {
  const guild = await seed(8);
  const service = new ServiceProcess('api/src/main.ts', {
    DATABASE_URL: testDb.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `${redisKeyPrefix}service:`,
    CONCORD_DATA_DIR: dataDir,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    API_PRIVATE_KEY_PEM: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    MESSAGE_RATE_LIMIT: '100000/10s',
    MESSAGE_IP_RATE_LIMIT: '100000/10s',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  });
  try {
    const url = await service.loggedUrl('api listening', 60_000);
    let killed = false;
    const acknowledged: Sent[] = [];
    const sending = burst(url, guild.channelId, guild.tokens, 1_000_000, () => killed, acknowledged);
    // Kill once a good number of messages went through, with every sender still at it.
    await eventually(() => acknowledged.length >= 100, 60_000, '100 messages acknowledged');
    service.crash();
    killed = true;
    await sending;
    await service.exited;

    const { rows } = await db.query<{ id: string }>('SELECT id FROM messages WHERE channel_id = $1 AND id = ANY($2::uuid[])', [guild.channelId, acknowledged.map((s) => s.id)]);
    const stored = new Set(rows.map((row) => row.id));
    expect(acknowledged.length).toBeGreaterThanOrEqual(100);
    expect(acknowledged.filter((s) => !stored.has(s.id))).toEqual([]);
  } finally {
    await service.kill();
  }
}, 120_000);
