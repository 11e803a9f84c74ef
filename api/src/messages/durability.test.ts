import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Message, MessagePage } from '@concord/protocol';
import type { Database } from '../db/database';
import { createChannel, seedServerWithMembers, startChatApi, type SeededMembers } from '@concord/testkit/src/chat-api';
import { call } from '@concord/testkit/src/http';
import { createTestDatabase, createThrowawayPostgres, type TestDatabase, type ThrowawayPostgres } from '@concord/testkit/src/postgres';
import { RecordingPublisher } from '@concord/testkit/src/recording-publisher';
import { eventually } from '@concord/testkit/src/wait';
import { loadSigningKeys, type SigningKeys } from '../keys';
import type { RunningApi } from '../server';

/*
 * What a 201 promises: the message is committed, survives the API going away, and never outlives
 * its channel; and what a database outage does to the routes: 503 at once, then service again
 * without a restart.
 */

let dataDir: string;
let keys: SigningKeys;
const running: RunningApi[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-messages-durability-'));
  keys = await loadSigningKeys({ dataDir });
});

afterAll(async () => {
  for (const api of running.splice(0)) await api.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function start(databaseUrl: string): Promise<RunningApi> {
  const api = await startChatApi({ databaseUrl, keys, dataDir });
  running.push(api);
  return api;
}

async function stop(api: RunningApi): Promise<void> {
  running.splice(running.indexOf(api), 1);
  await api.close();
}

const seed = (db: Database, members = 3): Promise<SeededMembers> => seedServerWithMembers(db, keys, members);

const messagesOf = (channelId: string) => `/api/channels/${channelId}/messages`;

describe('on the shared PostgreSQL', () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    for (const api of running.splice(0)) await api.close();
    await testDb?.drop();
  });

  test('a 201 message is committed: a new API instance on the same database serves it', async () => {
    const first = await start(testDb.url);
    const guild = await seed(first.deps.db);
    const sent = await call<Message>(first.url, 'POST', messagesOf(guild.channelId), { token: guild.tokens[1], json: { content: 'still here?', nonce: 'durable-1' } });
    expect(sent.status).toBe(201);
    await stop(first);

    // Straight from the database, outside any API pool…
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    const { rows } = await client.query('SELECT content FROM messages WHERE channel_id = $1 AND id = $2', [guild.channelId, sent.body.id]);
    await client.end();
    expect(rows).toEqual([{ content: 'still here?' }]);

    // …and through a fresh instance, where the same nonce still finds it.
    const second = await start(testDb.url);
    const page = await call<MessagePage>(second.url, 'GET', messagesOf(guild.channelId), { token: guild.tokens[0] });
    expect(page.body.messages.map((m) => m.id)).toEqual([sent.body.id]);
    const retry = await call<Message>(second.url, 'POST', messagesOf(guild.channelId), { token: guild.tokens[1], json: { content: 'still here?', nonce: 'durable-1' } });
    expect({ status: retry.status, id: retry.body.id }).toEqual({ status: 200, id: sent.body.id });
    await stop(second);
  });

  test('deleting a channel while members send into it: every reply is 201 or 404, nothing outlives the channel, and every 201 elsewhere is stored as sent', async () => {
    const api = await start(testDb.url);
    const db = api.deps.db;
    const guild = await seed(db, 6);
    const doomed = await createChannel(db, guild.serverId);
    const kept = guild.channelId;

    const acknowledged: { channelId: string; message: Message }[] = [];

    const statuses = new Map<string, number[]>([
      [doomed, []],
      [kept, []],
    ]);
    let doomedAcks = 0;
    let deletionStarted = false;
    const deletion = (async () => {
      // Once the channel is busy, delete it out from under the senders (as the channel route does: one DELETE, cascading).
      while (doomedAcks < 15) await new Promise((resolve) => setTimeout(resolve, 2));
      deletionStarted = true;
      await db.query('DELETE FROM channels WHERE id = $1', [doomed]);
    })();

    // Each sender keeps sending into the doomed channel until it is told the channel is gone, and into the kept one alongside.
    const sender = async (token: string, index: number) => {
      for (let i = 0; i < 500; i++) {
        const gone = await call<Message>(api.url, 'POST', messagesOf(doomed), { token, json: { content: `sender ${index} message ${i} in the doomed channel` } });
        statuses.get(doomed)!.push(gone.status);
        if (gone.status === 404) expect(deletionStarted).toBe(true);
        if (gone.status === 201) doomedAcks += 1;
        const reply = await call<Message>(api.url, 'POST', messagesOf(kept), { token, json: { content: `sender ${index} message ${i}` } });
        statuses.get(kept)!.push(reply.status);
        if (reply.status === 201) acknowledged.push({ channelId: kept, message: reply.body });
        if (gone.status === 404) return;
      }
      throw new Error(`sender ${index} never saw the channel go`);
    };
    await Promise.all([deletion, ...guild.tokens.map((token, index) => sender(token, index))]);

    for (const [channelId, list] of statuses) expect({ channelId, unexpected: list.filter((status) => status !== 201 && status !== 404) }).toEqual({ channelId, unexpected: [] });
    expect(statuses.get(doomed)!.filter((s) => s === 201).length).toBeGreaterThanOrEqual(15);
    expect(statuses.get(doomed)!.filter((s) => s === 404).length).toBeGreaterThanOrEqual(guild.tokens.length);
    expect(statuses.get(kept)!.every((s) => s === 201)).toBe(true);

    // No orphans: no message without its channel, anywhere.
    const orphans = await db.query('SELECT m.id FROM messages m LEFT JOIN channels c ON c.id = m.channel_id WHERE c.id IS NULL');
    expect(orphans.rows).toEqual([]);
    expect((await db.query('SELECT 1 FROM messages WHERE channel_id = $1', [doomed])).rowCount).toBe(0);

    // Every acknowledged message of the surviving channel is stored exactly as acknowledged.
    const { rows } = await db.query<{ id: string; author_id: string; content: string }>('SELECT id, author_id, content FROM messages WHERE channel_id = $1', [kept]);
    const stored = new Map(rows.map((row) => [row.id, row]));
    const keptAcks = acknowledged.filter((a) => a.channelId === kept);
    expect(stored.size).toBe(keptAcks.length);
    for (const { message } of keptAcks) expect(stored.get(message.id)).toEqual({ id: message.id, author_id: message.authorId, content: message.content });
    await stop(api);
  });
});

test('a real-time outage does not fail sends: the message is committed and answered 201', async () => {
  const testDb = await createTestDatabase();
  try {
    const failing = new RecordingPublisher();
    let attempts = 0;
    failing.publish = async () => {
      attempts += 1;
      throw new Error('Redis is down');
    };
    const api = await startChatApi({ databaseUrl: testDb.url, keys, dataDir, realtime: failing });
    running.push(api);
    const guild = await seed(api.deps.db);
    const sent = await call<Message>(api.url, 'POST', messagesOf(guild.channelId), { token: guild.tokens[1], json: { content: 'no one hears this live' } });
    expect(sent.status).toBe(201);
    await eventually(() => attempts === 1);
    const page = await call<MessagePage>(api.url, 'GET', messagesOf(guild.channelId), { token: guild.tokens[0] });
    expect(page.body.messages.map((m) => m.id)).toEqual([sent.body.id]);
    await stop(api);
  } finally {
    await testDb.drop();
  }
});

describe('PostgreSQL going down and coming back', () => {
  let server: ThrowawayPostgres;

  beforeAll(async () => {
    server = await createThrowawayPostgres();
  });
  afterAll(async () => {
    for (const api of running.splice(0)) await api.close();
    await server?.destroy();
  });

  test('503 within 2 s while it is down, served again once it is back, with no restart; what was acknowledged is kept', async () => {
    const api = await start(server.url);
    const guild = await seed(api.deps.db);
    const token = guild.tokens[1]!;
    const before = await call<Message>(api.url, 'POST', messagesOf(guild.channelId), { token, json: { content: 'before the outage' } });
    expect(before.status).toBe(201);

    await server.stop();
    for (const [method, json] of [
      ['POST', { content: 'during the outage' }],
      ['GET', undefined],
    ] as const) {
      const started = Date.now();
      const reply = await call(api.url, method, messagesOf(guild.channelId), { token, json, timeoutMs: 5_000 });
      expect({ status: reply.status, body: reply.body }).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
      expect(Date.now() - started).toBeLessThan(2_000);
    }

    await server.start();
    const after = await call<Message>(api.url, 'POST', messagesOf(guild.channelId), { token, json: { content: 'after the outage' } });
    expect(after.status).toBe(201);
    const page = await call<MessagePage>(api.url, 'GET', messagesOf(guild.channelId), { token });
    expect(page.body.messages.map((m) => m.content)).toEqual(['after the outage', 'before the outage']);
    await stop(api);
  });
});
