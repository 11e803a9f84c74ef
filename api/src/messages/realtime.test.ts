import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Message, Permission } from '@concord/protocol';
import { addMember, createServerWithChannel, createUser, sessionToken, setMemberOverwrite, startChatApi, type SeededServer } from '@concord/testkit/src/chat-api';
import { call } from '@concord/testkit/src/http';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { QUIET_MS, startRealtime, type RealtimeClient, type RealtimeSetup } from '@concord/testkit/src/realtime';
import { sleep } from '@concord/testkit/src/wait';
import { guildKeys } from '../access';
import type { RunningApi } from '../server';

/*
 * Chat events from the API's routes to sockets on two signaling instances through Redis, as in a
 * cluster: members who may view the channel get every change of it, in order; members who may not
 * and non-members get nothing of it, and the audience is decided when each event goes out.
 */

let testDb: TestDatabase;
let dataDir: string;
let rt: RealtimeSetup;
let api: RunningApi;
let guild: SeededServer;
const NAMES = ['owner', 'alice', 'carol', 'bob', 'eve'] as const;
const ids = {} as Record<(typeof NAMES)[number], string>;
const tokens = {} as Record<(typeof NAMES)[number], string>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-messages-realtime-'));
  rt = await startRealtime({ mode: 'redis', instances: 2 });
  api = await startChatApi({ databaseUrl: testDb.url, keys: rt.keys, dataDir, realtime: rt.publisher });
  const db = api.deps.db;
  for (const name of NAMES) {
    ids[name] = await createUser(db, name);
    tokens[name] = await sessionToken(db, rt.keys, ids[name]);
  }
  guild = await createServerWithChannel(db, ids.owner);
  for (const name of ['alice', 'carol', 'bob'] as const) await addMember(db, guild.serverId, ids[name]);
  // Bob is a member, but this channel is hidden from him.
  await setMemberOverwrite(db, guild.channelId, ids.bob, 0, Permission.VIEW_CHANNEL);
  // Eve has a server of her own and is no member of this one.
  await createServerWithChannel(db, ids.eve);
});

afterAll(async () => {
  await api?.close();
  await rt?.close();
  await testDb?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const messagesUrl = () => `${api.url}/api/channels/${guild.channelId}/messages`;
const rest = (method: string, route: string, token: string, json?: unknown) => call(api.url, method, route, { token, ...(json !== undefined && { json }) });
const CHAT_EVENTS = ['message:created', 'message:updated', 'message:deleted', 'reaction:added', 'reaction:removed', 'typing:started'];
const chatEventsOf = (client: RealtimeClient) => client.received.filter((r) => CHAT_EVENTS.includes(r.event));

test('viewers on either instance get created, edited, reaction and deleted events in order; a member without VIEW_CHANNEL and a non-member get nothing', async () => {
  const alice = await rt.connect(0, ids.alice);
  const carol = await rt.connect(1, ids.carol);
  const bobs = [await rt.connect(0, ids.bob), await rt.connect(1, ids.bob)];
  const eve = await rt.connect(1, ids.eve);

  const sent = await call<Message>(api.url, 'POST', `/api/channels/${guild.channelId}/messages`, { token: tokens.owner, json: { content: 'hello, channel', nonce: 'rt-1' } });
  expect(sent.status).toBe(201);
  const id = sent.body.id;
  const base = `/api/channels/${guild.channelId}/messages/${id}`;
  expect((await rest('PATCH', base, tokens.owner, { content: 'hello, edited' })).status).toBe(200);
  expect((await rest('PUT', `${base}/reactions/${encodeURIComponent('👋')}/@me`, tokens.alice)).status).toBe(204);
  expect((await rest('DELETE', `${base}/reactions/${encodeURIComponent('👋')}/@me`, tokens.alice)).status).toBe(204);
  expect((await rest('POST', `/api/channels/${guild.channelId}/typing`, tokens.carol)).status).toBe(204);
  expect((await rest('DELETE', base, tokens.owner)).status).toBe(204);

  const reaction = { messageId: id, channelId: guild.channelId, serverId: guild.serverId, userId: ids.alice, emoji: '👋' };
  const expected = (includeTyping: boolean) => [
    { event: 'message:created', data: sent.body },
    { event: 'message:updated', data: expect.objectContaining({ id, content: 'hello, edited', channelId: guild.channelId, serverId: guild.serverId }) },
    { event: 'reaction:added', data: reaction },
    { event: 'reaction:removed', data: reaction },
    ...(includeTyping ? [{ event: 'typing:started', data: { serverId: guild.serverId, channelId: guild.channelId, userId: ids.carol } }] : []),
    { event: 'message:deleted', data: { id, channelId: guild.channelId, serverId: guild.serverId } },
  ];
  for (const client of [alice, carol]) await client.next('message:deleted', (e) => e.id === id);
  await sleep(QUIET_MS);
  expect(chatEventsOf(alice)).toEqual(expected(true));
  // The typist is not told of her own typing.
  expect(chatEventsOf(carol)).toEqual(expected(false));
  for (const client of [...bobs, eve]) expect(chatEventsOf(client)).toEqual([]);
});

test('the audience is decided when the event goes out: a member who just lost VIEW_CHANNEL gets no more of the channel', async () => {
  const alice = await rt.connect(0, ids.alice);
  const carol = await rt.connect(1, ids.carol);
  const first = await call<Message>(api.url, 'POST', `/api/channels/${guild.channelId}/messages`, { token: tokens.owner, json: { content: 'before' } });
  for (const client of [alice, carol]) await client.next('message:created', (m) => m.id === first.body.id);

  // As the overwrite route does: write, then invalidate what the permission checks read.
  await setMemberOverwrite(api.deps.db, guild.channelId, ids.alice, 0, Permission.VIEW_CHANNEL);
  await api.deps.guild.invalidate([guildKeys.channels(guild.serverId)]);

  const second = await call<Message>(api.url, 'POST', `/api/channels/${guild.channelId}/messages`, { token: tokens.owner, json: { content: 'after' } });
  expect(second.status).toBe(201);
  await carol.next('message:created', (m) => m.id === second.body.id);
  await sleep(QUIET_MS);
  expect(alice.eventsOf('message:created').map((m) => m.id)).toEqual([first.body.id]);
  // And she can no longer read or write it either.
  expect((await call(messagesUrl(), 'GET', '', { token: tokens.alice })).status).toBe(404);
});
