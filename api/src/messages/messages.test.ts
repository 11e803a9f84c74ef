import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_EVERYONE_PERMISSIONS, MAX_DISTINCT_REACTIONS, Message, MessagePage, Permission } from '@concord/protocol';
import { addMember, createChannel, createServerWithChannel, createUser, grantRole, sessionToken, setMemberOverwrite, startChatApi, type SeededServer } from '@concord/testkit/src/chat-api';
import { call } from '@concord/testkit/src/http';
import { raceInserts } from '@concord/testkit/src/insert-barrier';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { RecordingPublisher } from '@concord/testkit/src/recording-publisher';
import { sleep } from '@concord/testkit/src/wait';
import { uuidv7 } from '../db/ids';
import { loadSigningKeys, type SigningKeys } from '../keys';
import type { Database } from '../db/database';
import type { RunningApi } from '../server';

let testDb: TestDatabase;
let dataDir: string;
let keys: SigningKeys;
let api: RunningApi;
let db: Database;
const publisher = new RecordingPublisher();

let guild: SeededServer;
let other: SeededServer;
let voiceChannelId: string;
let hiddenChannelId: string;
let readOnlyChannelId: string;
let historyChannelId: string;
const NAMES = ['owner', 'alice', 'bob', 'mod', 'muted', 'eve'] as const;
const ids = {} as Record<(typeof NAMES)[number], string>;
const tokens = {} as Record<(typeof NAMES)[number], string>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-messages-'));
  keys = await loadSigningKeys({ dataDir });
  api = await startChatApi({ databaseUrl: testDb.url, keys, dataDir, realtime: publisher });
  db = api.deps.db;
  for (const name of NAMES) {
    ids[name] = await createUser(db, name);
    tokens[name] = await sessionToken(db, keys, ids[name]);
  }
  guild = await createServerWithChannel(db, ids.owner);
  for (const name of ['alice', 'bob', 'mod', 'muted'] as const) await addMember(db, guild.serverId, ids[name]);
  await grantRole(db, guild.serverId, ids.mod, DEFAULT_EVERYONE_PERMISSIONS | Permission.MANAGE_MESSAGES);
  // `muted` may read the main channel but neither write nor react there.
  await setMemberOverwrite(db, guild.channelId, ids.muted, 0, Permission.SEND_MESSAGES | Permission.ADD_REACTIONS);
  voiceChannelId = await createChannel(db, guild.serverId, 'voice');
  hiddenChannelId = await createChannel(db, guild.serverId);
  await setMemberOverwrite(db, hiddenChannelId, ids.alice, 0, Permission.VIEW_CHANNEL);
  readOnlyChannelId = await createChannel(db, guild.serverId);
  // Channels are created before the first request: the access cache is not told of writes made behind its back.
  historyChannelId = await createChannel(db, guild.serverId);
  await setMemberOverwrite(db, readOnlyChannelId, ids.alice, 0, Permission.READ_MESSAGE_HISTORY);
  // A server alice is not in, with eve as owner.
  other = await createServerWithChannel(db, ids.eve);
});

afterAll(async () => {
  await api?.close();
  await testDb?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const messagesOf = (channelId: string) => `/api/channels/${channelId}/messages`;

async function send(who: keyof typeof ids, content: string, extra: { replyToId?: string; nonce?: string; channelId?: string } = {}) {
  const { channelId = guild.channelId, ...rest } = extra;
  return call<Message>(api.url, 'POST', messagesOf(channelId), { token: tokens[who], json: { content, ...rest } });
}

async function sent(who: keyof typeof ids, content: string, extra: { replyToId?: string; nonce?: string; channelId?: string } = {}): Promise<Message> {
  const reply = await send(who, content, extra);
  expect(reply.status).toBe(201);
  return Message.parse(reply.body);
}

function expectError(reply: { status: number; body: unknown }, status: number, code: string): void {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { error: { code } } });
}

/** Long enough for an event that is coming to have been published. */
const QUIET_MS = 200;

describe('sending', () => {
  test('a message is stored and returned with 201, and published to the channel audience', async () => {
    const message = await sent('alice', 'hello world');
    expect(message).toMatchObject({
      channelId: guild.channelId,
      serverId: guild.serverId,
      authorId: ids.alice,
      content: 'hello world',
      editedAt: null,
      replyToId: null,
      mentions: [],
      mentionEveryone: false,
      nonce: null,
      reactions: [],
    });
    expect(message.id).toMatch(/^[0-9a-f-]{8}-[0-9a-f]{4}-7/);
    const row = await db.maybeOne<{ content: string }>('SELECT content FROM messages WHERE channel_id = $1 AND id = $2', [guild.channelId, message.id]);
    expect(row?.content).toBe('hello world');
    const event = await publisher.next('message:created', (data) => data.id === message.id);
    // Everyone who can view the channel, the author included; eve is not a member.
    expect(event?.userIds).toEqual([ids.owner, ids.alice, ids.bob, ids.mod, ids.muted].sort());
    expect(event?.data).toEqual(message);
  });

  test('content is validated: empty, blank, too long, NUL, unknown fields → 400; 4000 characters of emoji fit', async () => {
    for (const body of [{ content: '' }, { content: '   \n ' }, { content: 'x'.repeat(4001) }, { content: 'a\u0000b' }, {}, { content: 'ok', extra: 1 }, { content: 42 }]) {
      expectError(await call(api.url, 'POST', messagesOf(guild.channelId), { token: tokens.alice, json: body }), 400, 'BAD_REQUEST');
    }
    expectError(await call(api.url, 'POST', messagesOf(guild.channelId), { token: tokens.alice, raw: '{"content":' }), 400, 'BAD_REQUEST');
    // 4000 code points, 8000 UTF-16 units: the limit counts characters, as PostgreSQL does.
    const long = await sent('alice', '😀'.repeat(4000));
    expect([...long.content]).toHaveLength(4000);
    expectError(await send('alice', '😀'.repeat(4001)), 400, 'BAD_REQUEST');
  });

  test('who may send where: 401 without a session, 404 for channels unknown or out of sight, 403 without SEND_MESSAGES, 400 for voice', async () => {
    expectError(await call(api.url, 'POST', messagesOf(guild.channelId), { json: { content: 'hi' } }), 401, 'UNAUTHENTICATED');
    expectError(await call(api.url, 'POST', messagesOf(guild.channelId), { token: 'garbage', json: { content: 'hi' } }), 401, 'UNAUTHENTICATED');
    expectError(await send('alice', 'hi', { channelId: uuidv7() }), 404, 'NOT_FOUND');
    expectError(await send('alice', 'hi', { channelId: 'not-a-uuid' }), 404, 'NOT_FOUND');
    expectError(await send('alice', 'hi', { channelId: other.channelId }), 404, 'NOT_FOUND');
    expectError(await send('alice', 'hi', { channelId: hiddenChannelId }), 404, 'NOT_FOUND');
    expectError(await send('muted', 'hi'), 403, 'FORBIDDEN');
    expectError(await send('alice', 'hi', { channelId: voiceChannelId }), 400, 'BAD_REQUEST');
    // Another route to the same place: the server owner is not a member elsewhere either.
    expectError(await send('eve', 'hi'), 404, 'NOT_FOUND');
  });

  test('mentions count members only; @everyone notifies only with MENTION_EVERYONE', async () => {
    const stranger = uuidv7();
    const message = await sent('alice', `hi <@${ids.bob}> and <@${ids.eve}> and <@${stranger}> and <@${ids.bob.toUpperCase()}> <@${ids.mod}> @everyone`);
    expect(message.mentions).toEqual([ids.bob, ids.mod]);
    expect(message.mentionEveryone).toBe(false);
    expect((await sent('owner', 'hey @everyone, meeting')).mentionEveryone).toBe(true);
    expect((await sent('owner', 'mail me at me@everyone.example')).mentionEveryone).toBe(false);
  });

  test('a reply points at a message of the same channel; one elsewhere or unknown is 404; deleting the original unlinks it', async () => {
    const original = await sent('bob', 'question?');
    const reply = await sent('alice', 'answer', { replyToId: original.id });
    expect(reply.replyToId).toBe(original.id);

    const elsewhere = await sent('owner', 'in another channel', { channelId: readOnlyChannelId });
    expectError(await send('alice', 'bad reply', { replyToId: elsewhere.id }), 404, 'NOT_FOUND');
    expectError(await send('alice', 'bad reply', { replyToId: uuidv7() }), 404, 'NOT_FOUND');
    expectError(await send('alice', 'bad reply', { replyToId: 'nope' as string }), 400, 'BAD_REQUEST');

    expect((await call(api.url, 'DELETE', `${messagesOf(guild.channelId)}/${original.id}`, { token: tokens.bob })).status).toBe(204);
    const after = await call<Message>(api.url, 'GET', `${messagesOf(guild.channelId)}/${reply.id}`, { token: tokens.alice });
    expect(after.body.replyToId).toBeNull();
  });
});

describe('idempotent sends (nonce)', () => {
  test('a retry with the same nonce returns the first message with 200 and stores nothing new', async () => {
    const first = await send('alice', 'only once', { nonce: 'n-1' });
    expect(first.status).toBe(201);
    const retry = await send('alice', 'only once', { nonce: 'n-1' });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(first.body.nonce).toBe('n-1');
    // Nonces are per author: bob's n-1 is a message of its own.
    expect((await send('bob', 'mine', { nonce: 'n-1' })).status).toBe(201);
    const { rows } = await db.query('SELECT id FROM messages WHERE author_id = $1 AND nonce = $2', [ids.alice, 'n-1']);
    expect(rows).toHaveLength(1);
  });

  test('two concurrent sends with the same nonce make one message: one 201, one 200', async () => {
    const replies = await raceInserts(testDb.url, 'messages', 2, () => Promise.all([send('bob', 'racing', { nonce: 'race-1' }), send('bob', 'racing', { nonce: 'race-1' })]));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(replies[0]!.body.id).toBe(replies[1]!.body.id);
    const { rows } = await db.query('SELECT id FROM messages WHERE author_id = $1 AND nonce = $2', [ids.bob, 'race-1']);
    expect(rows).toHaveLength(1);
    await publisher.next('message:created', (data) => data.nonce === 'race-1');
    await sleep(QUIET_MS);
    expect(publisher.of('message:created').filter((e) => e.data.nonce === 'race-1' && e.data.authorId === ids.bob)).toHaveLength(1);
  });

  test('a nonce already used in another channel is a conflict; a malformed nonce is 400', async () => {
    expect((await send('owner', 'first', { nonce: 'moved' })).status).toBe(201);
    expectError(await send('owner', 'first', { nonce: 'moved', channelId: readOnlyChannelId }), 409, 'CONFLICT');
    expectError(await send('owner', 'x', { nonce: '' }), 400, 'BAD_REQUEST');
    expectError(await send('owner', 'x', { nonce: 'n'.repeat(65) }), 400, 'BAD_REQUEST');
  });
});

describe('editing and deleting', () => {
  test('the author edits: new content and mentions, editedAt set, message:updated published; others get 403', async () => {
    const message = await sent('alice', 'typo');
    const edited = await call<Message>(api.url, 'PATCH', `${messagesOf(guild.channelId)}/${message.id}`, { token: tokens.alice, json: { content: `fixed <@${ids.bob}>` } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ id: message.id, content: `fixed <@${ids.bob}>`, mentions: [ids.bob], createdAt: message.createdAt });
    expect(edited.body.editedAt).not.toBeNull();
    expect((await publisher.next('message:updated', (data) => data.id === message.id)).data).toMatchObject({ content: `fixed <@${ids.bob}>`, mentions: [ids.bob] });

    expectError(await call(api.url, 'PATCH', `${messagesOf(guild.channelId)}/${message.id}`, { token: tokens.bob, json: { content: 'hijack' } }), 403, 'FORBIDDEN');
    // Not even a moderator edits someone else's words.
    expectError(await call(api.url, 'PATCH', `${messagesOf(guild.channelId)}/${message.id}`, { token: tokens.mod, json: { content: 'hijack' } }), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'PATCH', `${messagesOf(guild.channelId)}/${message.id}`, { token: tokens.alice, json: { content: '' } }), 400, 'BAD_REQUEST');
    expectError(await call(api.url, 'PATCH', `${messagesOf(guild.channelId)}/${uuidv7()}`, { token: tokens.alice, json: { content: 'x' } }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'PATCH', `${messagesOf(guild.channelId)}/garbage`, { token: tokens.alice, json: { content: 'x' } }), 404, 'NOT_FOUND');
    // The right id through the wrong channel is unknown there.
    expectError(await call(api.url, 'PATCH', `${messagesOf(readOnlyChannelId)}/${message.id}`, { token: tokens.alice, json: { content: 'x' } }), 404, 'NOT_FOUND');
  });

  test('delete: own 204, another member’s 403 unless MANAGE_MESSAGES, unknown or already deleted 404; message:deleted published', async () => {
    const mine = await sent('alice', 'delete me');
    const bobs = await sent('bob', 'moderate me');
    const url = (id: string, channelId = guild.channelId) => `${messagesOf(channelId)}/${id}`;
    expectError(await call(api.url, 'DELETE', url(bobs.id), { token: tokens.alice }), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'DELETE', url(mine.id, readOnlyChannelId), { token: tokens.alice }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'DELETE', url(mine.id), { token: tokens.eve }), 404, 'NOT_FOUND');
    expect((await call(api.url, 'DELETE', url(mine.id), { token: tokens.alice })).status).toBe(204);
    expect((await call(api.url, 'DELETE', url(bobs.id), { token: tokens.mod })).status).toBe(204);
    expectError(await call(api.url, 'DELETE', url(mine.id), { token: tokens.alice }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'GET', url(mine.id), { token: tokens.alice }), 404, 'NOT_FOUND');
    for (const id of [mine.id, bobs.id]) await publisher.next('message:deleted', (data) => data.id === id);
  });
});

describe('history', () => {
  let channelId: string;
  let all: Message[];

  beforeAll(async () => {
    channelId = historyChannelId;
    all = [];
    for (let i = 0; i < 25; i++) all.push(await sent(i % 2 ? 'alice' : 'bob', `message ${i}`, { channelId }));
    // Noise in another channel must never show up.
    await sent('alice', 'elsewhere');
  });

  const page = (query: string, who: keyof typeof ids = 'alice') => call<MessagePage>(api.url, 'GET', `${messagesOf(channelId)}${query}`, { token: tokens[who] });
  const idsOf = (reply: { body: MessagePage }) => reply.body.messages.map((m) => m.id);
  const newestFirst = () => all.map((m) => m.id).reverse();

  test('the latest page, then `before` pages back newest first across pages until empty', async () => {
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 4; i++) {
      const reply = await page(`?limit=10${cursor}`);
      expect(reply.status).toBe(200);
      MessagePage.parse(reply.body);
      seen.push(...idsOf(reply));
      if (reply.body.messages.length < 10) break;
      cursor = `&before=${reply.body.messages.at(-1)!.id}`;
    }
    expect(seen).toEqual(newestFirst());
    expect((await page('?limit=5')).body.messages.map((m) => m.content)).toEqual(['message 24', 'message 23', 'message 22', 'message 21', 'message 20']);
    expect((await page('')).body.messages).toHaveLength(25);
  });

  test('`after` alone pages forward oldest first; `before` with `after` is the range between, newest first', async () => {
    const forward: string[] = [];
    let after = all[0]!.id;
    forward.push(after);
    for (let i = 0; i < 5; i++) {
      const reply = await page(`?limit=7&after=${after}`);
      if (reply.body.messages.length === 0) break;
      forward.push(...idsOf(reply));
      after = reply.body.messages.at(-1)!.id;
    }
    expect(forward).toEqual(all.map((m) => m.id));
    const between = await page(`?before=${all[10]!.id}&after=${all[4]!.id}`);
    expect(idsOf(between)).toEqual(all.slice(5, 10).map((m) => m.id).reverse());
  });

  test('bad queries are 400; without READ_MESSAGE_HISTORY 403; out of sight 404', async () => {
    for (const query of ['?limit=0', '?limit=101', '?limit=abc', '?before=123', '?after=x', '?limit=1&limit=2', '?sort=asc']) {
      expectError(await page(query), 400, 'BAD_REQUEST');
    }
    expect((await page('?limit=100')).status).toBe(200);
    expectError(await call(api.url, 'GET', messagesOf(readOnlyChannelId), { token: tokens.alice }), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'GET', messagesOf(hiddenChannelId), { token: tokens.alice }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'GET', messagesOf(other.channelId), { token: tokens.alice }), 404, 'NOT_FOUND');
  });

  test('history shows reactions with counts and whether the reader reacted', async () => {
    const target = all[24]!;
    const react = (who: keyof typeof ids, emoji: string) => call(api.url, 'PUT', `${messagesOf(channelId)}/${target.id}/reactions/${encodeURIComponent(emoji)}/@me`, { token: tokens[who] });
    expect((await react('alice', '👍')).status).toBe(204);
    expect((await react('bob', '👍')).status).toBe(204);
    expect((await react('bob', ':party:')).status).toBe(204);
    const latest = (await page('?limit=1', 'alice')).body.messages[0]!;
    expect(latest.reactions).toEqual([
      { emoji: '👍', count: 2, me: true },
      { emoji: ':party:', count: 1, me: false },
    ]);
  });
});

describe('reactions', () => {
  const reactionUrl = (messageId: string, emoji: string, who = '@me', channelId = guild.channelId) =>
    `${messagesOf(channelId)}/${messageId}/reactions/${encodeURIComponent(emoji)}/${who}`;

  test('add (idempotent), list, who reacted, remove own (idempotent), with one event per change', async () => {
    const message = await sent('bob', 'react to me');
    for (let i = 0; i < 2; i++) expect((await call(api.url, 'PUT', reactionUrl(message.id, '🎉'), { token: tokens.alice })).status).toBe(204);
    expect((await call(api.url, 'PUT', reactionUrl(message.id, '🎉'), { token: tokens.bob })).status).toBe(204);
    expect((await call(api.url, 'PUT', reactionUrl(message.id, '👨‍👩‍👧'), { token: tokens.bob })).status).toBe(204);
    expect((await call(api.url, 'PUT', reactionUrl(message.id, '🇫🇷'), { token: tokens.bob })).status).toBe(204);

    const list = await call(api.url, 'GET', `${messagesOf(guild.channelId)}/${message.id}/reactions`, { token: tokens.alice });
    expect(list.body).toEqual({
      reactions: [
        { emoji: '🎉', count: 2, me: true },
        { emoji: '👨‍👩‍👧', count: 1, me: false },
        { emoji: '🇫🇷', count: 1, me: false },
      ],
    });
    const who = await call(api.url, 'GET', `${messagesOf(guild.channelId)}/${message.id}/reactions/${encodeURIComponent('🎉')}`, { token: tokens.bob });
    expect(who.body).toEqual({ userIds: [ids.alice, ids.bob].sort() });
    const paged = await call(api.url, 'GET', `${messagesOf(guild.channelId)}/${message.id}/reactions/${encodeURIComponent('🎉')}?limit=1`, { token: tokens.bob });
    expect(paged.body.userIds).toHaveLength(1);

    for (let i = 0; i < 2; i++) expect((await call(api.url, 'DELETE', reactionUrl(message.id, '🎉'), { token: tokens.alice })).status).toBe(204);
    await publisher.next('reaction:removed', (data) => data.messageId === message.id && data.userId === ids.alice);
    await sleep(QUIET_MS);
    const mine = (event: 'reaction:added' | 'reaction:removed') => publisher.of(event).filter((e) => e.data.messageId === message.id && e.data.userId === ids.alice);
    expect(mine('reaction:added')).toHaveLength(1);
    expect(mine('reaction:removed')).toHaveLength(1);
    expect(mine('reaction:added')[0]!.data).toEqual({ messageId: message.id, channelId: guild.channelId, serverId: guild.serverId, userId: ids.alice, emoji: '🎉' });
  });

  test('emoji must be one unicode emoji or :name:', async () => {
    const message = await sent('bob', 'emoji check');
    for (const bad of ['a', 'hello', '👍👍', '::', ':a:', ':with space:', '1', ' ', '👍 ', 'x'.repeat(70)]) {
      expectError(await call(api.url, 'PUT', reactionUrl(message.id, bad), { token: tokens.alice }), 400, 'BAD_REQUEST');
    }
    for (const good of ['❤️', '1️⃣', ':thumbs_up:', '🏳️‍🌈', '👍🏽']) {
      expect((await call(api.url, 'PUT', reactionUrl(message.id, good), { token: tokens.alice })).status).toBe(204);
    }
  });

  test(`at most ${MAX_DISTINCT_REACTIONS} different emojis per message, even when added concurrently; existing ones stay open`, async () => {
    const message = await sent('bob', 'popular');
    const emojis = Array.from({ length: MAX_DISTINCT_REACTIONS + 5 }, (_, i) => `:e${String(i).padStart(2, '0')}:`);
    const replies = await Promise.all(emojis.map((emoji) => call(api.url, 'PUT', reactionUrl(message.id, emoji), { token: tokens.alice })));
    expect(replies.filter((r) => r.status === 204)).toHaveLength(MAX_DISTINCT_REACTIONS);
    for (const refused of replies.filter((r) => r.status !== 204)) expectError(refused, 400, 'BAD_REQUEST');
    const { rows } = await db.query('SELECT DISTINCT emoji FROM reactions WHERE message_id = $1', [message.id]);
    expect(rows).toHaveLength(MAX_DISTINCT_REACTIONS);
    const taken = (rows[0] as { emoji: string }).emoji;
    expect((await call(api.url, 'PUT', reactionUrl(message.id, taken), { token: tokens.bob })).status).toBe(204);
  });

  test('permissions and unknown ids: ADD_REACTIONS 403, others’ reactions need MANAGE_MESSAGES, unknown message 404', async () => {
    const message = await sent('bob', 'guarded');
    expectError(await call(api.url, 'PUT', reactionUrl(message.id, '👍'), { token: tokens.muted }), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'PUT', reactionUrl(uuidv7(), '👍'), { token: tokens.alice }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'PUT', reactionUrl('nope', '👍'), { token: tokens.alice }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'PUT', reactionUrl(message.id, '👍', '@me', readOnlyChannelId), { token: tokens.owner }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'PUT', reactionUrl(message.id, '👍'), { token: tokens.eve }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'GET', `${messagesOf(guild.channelId)}/${uuidv7()}/reactions`, { token: tokens.alice }), 404, 'NOT_FOUND');
    expect((await call(api.url, 'PUT', reactionUrl(message.id, '👍'), { token: tokens.alice })).status).toBe(204);
    expectError(await call(api.url, 'DELETE', reactionUrl(message.id, '👍', ids.alice), { token: tokens.bob }), 403, 'FORBIDDEN');
    expect((await call(api.url, 'DELETE', reactionUrl(message.id, '👍', ids.alice), { token: tokens.mod })).status).toBe(204);
    expect((await call(api.url, 'GET', `${messagesOf(guild.channelId)}/${message.id}/reactions`, { token: tokens.alice })).body).toEqual({ reactions: [] });
    // Deleting the message takes its reactions.
    expect((await call(api.url, 'PUT', reactionUrl(message.id, '👍'), { token: tokens.alice })).status).toBe(204);
    expect((await call(api.url, 'DELETE', `${messagesOf(guild.channelId)}/${message.id}`, { token: tokens.bob })).status).toBe(204);
    expect((await db.query('SELECT 1 FROM reactions WHERE message_id = $1', [message.id])).rowCount).toBe(0);
  });
});

describe('typing', () => {
  test('publishes typing:started to the channel audience but the typist, at most once per window; 403 without SEND_MESSAGES', async () => {
    const before = publisher.of('typing:started').length;
    expect((await call(api.url, 'POST', `/api/channels/${guild.channelId}/typing`, { token: tokens.bob })).status).toBe(204);
    expect((await call(api.url, 'POST', `/api/channels/${guild.channelId}/typing`, { token: tokens.bob })).status).toBe(204);
    await publisher.next('typing:started', (data) => data.userId === ids.bob);
    await sleep(QUIET_MS);
    const events = publisher.of('typing:started').slice(before);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ serverId: guild.serverId, channelId: guild.channelId, userId: ids.bob });
    expect(events[0]!.userIds).toEqual([ids.owner, ids.alice, ids.mod, ids.muted].sort());
    expectError(await call(api.url, 'POST', `/api/channels/${guild.channelId}/typing`, { token: tokens.muted }), 403, 'FORBIDDEN');
    expectError(await call(api.url, 'POST', `/api/channels/${other.channelId}/typing`, { token: tokens.bob }), 404, 'NOT_FOUND');
    expectError(await call(api.url, 'POST', `/api/channels/${guild.channelId}/typing`, { token: tokens.bob, json: { x: 1 } }), 400, 'BAD_REQUEST');
  });
});
