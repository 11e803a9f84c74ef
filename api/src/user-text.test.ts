/**
 * Every string field a user can send, with the characters the one text rule (protocol's text.ts)
 * refuses, over real HTTP against the API on a real PostgreSQL: each is a 400 that names the
 * field, never a 5xx, and nothing is stored.
 */
import { ProtocolError, TEXT_ERRORS } from '@concord/protocol';
import { createServer, expectError, expectStatus, startGuildApi, type CreatedServer, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';

/** Refused in every field. */
const NEVER = { NUL: '\u0000', BEL: '\u0007', ESC: '\u001b', DEL: '\u007f', 'C1 NEL': '\u0085', 'C1 CSI': '\u009b', 'lone surrogate': '\ud800' };
/** Refused in single-line fields (names, reasons, URLs, nonces); allowed in message bodies and topics. */
const NOT_IN_A_LINE = { newline: '\n', tab: '\t', CR: '\r', 'line separator': '\u2028', RLO: '\u202e', LRE: '\u202a', LRI: '\u2066', PDI: '\u2069' };

type Kind = 'line' | 'body';

interface Field {
  name: string;
  kind: Kind;
  /** The field's name as the error message gives it. */
  field: string;
  send(bad: string): Promise<{ status: number; body: any }>;
}

let t: GuildTestApi;
let owner: TestUser;
let victim: TestUser;
let server: CreatedServer;
let messageId: string;
let roleId: string;

beforeAll(async () => {
  t = await startGuildApi();
  owner = await t.signUp('owner');
  victim = await t.signUp('victim');
  server = await createServer(t, owner, [victim]);
  roleId = expectStatus(await t.call('POST', `/api/servers/${server.id}/roles`, { token: owner.token, json: { name: 'mods' } }), 201).id;
  messageId = expectStatus(await t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: owner.token, json: { content: 'hello' } }), 201).id;
}, 60_000);

afterAll(async () => {
  await t?.close();
});

let signUps = 0;
const fields = (): Field[] => {
  const as = (method: string, route: string, json: (bad: string) => unknown) => (bad: string) => t.call(method, route, { token: owner.token, json: json(bad) });
  const text = `/api/channels/${server.textChannelId}`;
  return [
    { name: 'sign-up display name', kind: 'line', field: 'displayName', send: (bad) => t.call('POST', '/api/auth/local/signup', { json: { username: `textcase${(signUps += 1)}`, password: 'correct horse battery', displayName: `a${bad}b` } }) },
    { name: 'profile display name', kind: 'line', field: 'displayName', send: as('PATCH', '/api/users/@me', (bad) => ({ displayName: `a${bad}b` })) },
    { name: 'profile avatar URL', kind: 'line', field: 'avatarUrl', send: as('PATCH', '/api/users/@me', (bad) => ({ avatarUrl: `https://example.com/a${bad}b.png` })) },
    { name: 'new server name', kind: 'line', field: 'name', send: as('POST', '/api/servers', (bad) => ({ name: `a${bad}b` })) },
    { name: 'new server icon URL', kind: 'line', field: 'iconUrl', send: as('POST', '/api/servers', (bad) => ({ name: 'ok', iconUrl: `https://example.com/a${bad}b` })) },
    { name: 'server rename', kind: 'line', field: 'name', send: as('PATCH', `/api/servers/${server.id}`, (bad) => ({ name: `a${bad}b` })) },
    { name: 'new channel name', kind: 'line', field: 'name', send: as('POST', `/api/servers/${server.id}/channels`, (bad) => ({ name: `a${bad}b` })) },
    { name: 'new channel topic', kind: 'body', field: 'topic', send: as('POST', `/api/servers/${server.id}/channels`, (bad) => ({ name: 'ok', topic: `a${bad}b` })) },
    { name: 'channel rename', kind: 'line', field: 'name', send: as('PATCH', text, (bad) => ({ name: `a${bad}b` })) },
    { name: 'channel topic', kind: 'body', field: 'topic', send: as('PATCH', text, (bad) => ({ topic: `a${bad}b` })) },
    { name: 'new role name', kind: 'line', field: 'name', send: as('POST', `/api/servers/${server.id}/roles`, (bad) => ({ name: `a${bad}b` })) },
    { name: 'role rename', kind: 'line', field: 'name', send: as('PATCH', `/api/servers/${server.id}/roles/${roleId}`, (bad) => ({ name: `a${bad}b` })) },
    { name: 'ban reason', kind: 'line', field: 'reason', send: as('PUT', `/api/servers/${server.id}/bans/${victim.id}`, (bad) => ({ reason: `a${bad}b` })) },
    { name: 'message content', kind: 'body', field: 'content', send: as('POST', `${text}/messages`, (bad) => ({ content: `a${bad}b` })) },
    { name: 'message nonce', kind: 'line', field: 'nonce', send: as('POST', `${text}/messages`, (bad) => ({ content: 'fine', nonce: `n${bad}` })) },
    { name: 'message edit', kind: 'body', field: 'content', send: as('PATCH', `${text}/messages/${messageId}`, (bad) => ({ content: `a${bad}b` })) },
  ];
};

/** Everything the cases could have changed, as the API and the database report it. */
async function snapshot(): Promise<unknown> {
  const read = async (route: string) => expectStatus(await t.call('GET', route, { token: owner.token }), 200);
  const counts = await t.api.deps.db.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM servers) AS servers, (SELECT count(*) FROM channels) AS channels,
            (SELECT count(*) FROM roles) AS roles, (SELECT count(*) FROM bans) AS bans, (SELECT count(*) FROM messages) AS messages`,
  );
  return {
    counts: counts.rows[0],
    me: await read('/api/users/@me'),
    servers: await read('/api/users/@me/servers'),
    channels: await read(`/api/servers/${server.id}/channels`),
    roles: await read(`/api/servers/${server.id}/roles`),
    members: await read(`/api/servers/${server.id}/members`),
    messages: await read(`/api/channels/${server.textChannelId}/messages`),
  };
}

const refusedIn = (kind: Kind) => Object.entries(kind === 'line' ? { ...NEVER, ...NOT_IN_A_LINE } : NEVER);
const RULE_MESSAGES = Object.values(TEXT_ERRORS);

test('every user-visible text field refuses control, bidi and broken characters with a 400 naming the field, and stores nothing', async () => {
  const before = await snapshot();
  const failures: string[] = [];
  for (const field of fields()) {
    for (const [character, bad] of refusedIn(field.kind)) {
      const reply = await field.send(bad);
      const error = reply.body?.error;
      const named = typeof error?.message === 'string' && error.message.startsWith(`${field.field}: `) && RULE_MESSAGES.some((text) => error.message.includes(text));
      if (reply.status !== 400 || error?.code !== 'BAD_REQUEST' || !named) failures.push(`${field.name} with ${character}: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(await snapshot()).toEqual(before);
}, 120_000);

test('multi-line bodies keep line breaks, tabs and bidi marks; all text is stored in NFC', async () => {
  const decomposed = 'Cafe\u0301';
  const channel = expectStatus(
    await t.call('PATCH', `/api/channels/${server.textChannelId}`, { token: owner.token, json: { topic: ` line one\n\tline \u2067two\u2069 ${decomposed} ` } }),
    200,
  );
  expect(channel.topic).toBe('line one\n\tline \u2067two\u2069 Café');
  const message = expectStatus(await t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: owner.token, json: { content: `  code:\n\tx = 1 \u202e${decomposed}` } }), 201);
  expect(message.content).toBe('  code:\n\tx = 1 \u202eCafé');
  const profile = expectStatus(await t.call('PATCH', '/api/users/@me', { token: owner.token, json: { displayName: decomposed } }), 200);
  expect(profile.displayName).toBe('Café');
  // Length is counted after normalisation: 64 decomposed letters are 64 characters, not 128.
  expectStatus(await t.call('PATCH', '/api/users/@me', { token: owner.token, json: { displayName: 'e\u0301'.repeat(64) } }), 200);
  expectError(await t.call('PATCH', '/api/users/@me', { token: owner.token, json: { displayName: 'é'.repeat(65) } }), 400, 'BAD_REQUEST');
});

test('text the database cannot store is a 400 from the data layer too (defence in depth, not a 500)', async () => {
  const failure = await t.api.deps.db.query('SELECT $1::text AS value', ['a\u0000b']).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(ProtocolError);
  expect(failure).toMatchObject({ code: 'BAD_REQUEST', cause: { code: '22021' } });
});
