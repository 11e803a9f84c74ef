import { DEFAULT_EVERYONE_PERMISSIONS, ALL_PERMISSIONS, Channel, Permission, Role, Server, ServerView, UserProfile } from '@concord/protocol';
import { createRole, createServer, expectError, expectStatus, startGuildApi, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';

let t: GuildTestApi;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  t = await startGuildApi();
  [alice, bob, carol] = await Promise.all([t.signUp('alice'), t.signUp('bob'), t.signUp('carol')]);
});

afterAll(() => t?.close());

const UNKNOWN = '0190a5f0-0000-7000-8000-000000000000';

describe('servers', () => {
  test('creating one makes @everyone, #general, a General voice channel, and the owner a member', async () => {
    t.publisher.clear();
    const reply = await t.call('POST', '/api/servers', { token: alice.token, json: { name: '  Alice’s place ', iconUrl: 'https://example.com/icon.png' } });
    const server = Server.parse(expectStatus(reply, 201));
    expect(server).toMatchObject({ name: 'Alice’s place', ownerId: alice.id, iconUrl: 'https://example.com/icon.png' });
    expect(server.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/); // UUIDv7
    expect(t.publisher.rooms).toEqual([{ op: 'add', userId: alice.id, serverId: server.id }]);

    const roles = expectStatus(await t.call<Role[]>('GET', `/api/servers/${server.id}/roles`, { token: alice.token }), 200);
    expect(roles).toEqual([{ id: expect.any(String), serverId: server.id, name: '@everyone', colour: 0, position: 0, permissions: DEFAULT_EVERYONE_PERMISSIONS, isEveryone: true }]);
    const channels = expectStatus(await t.call<(Channel & { permissions: number })[]>('GET', `/api/servers/${server.id}/channels`, { token: alice.token }), 200);
    expect(channels.map(({ kind, name, parentId, overwrites, permissions }) => ({ kind, name, parentId, overwrites, permissions }))).toEqual([
      { kind: 'text', name: 'general', parentId: null, overwrites: [], permissions: ALL_PERMISSIONS },
      { kind: 'voice', name: 'General', parentId: null, overwrites: [], permissions: ALL_PERMISSIONS },
    ]);

    const view = ServerView.parse(expectStatus(await t.call('GET', `/api/servers/${server.id}`, { token: alice.token }), 200));
    expect(view).toMatchObject({ id: server.id, permissions: ALL_PERMISSIONS, memberCount: 1 });
    const mine = expectStatus(await t.call<Server[]>('GET', '/api/users/@me/servers', { token: alice.token }), 200);
    expect(mine.map((s) => s.id)).toContain(server.id);
  });

  test('malformed bodies are 400 naming the field; no session is 401', async () => {
    expect(expectError(await t.call('POST', '/api/servers', { token: alice.token, json: { name: '' } }), 400, 'BAD_REQUEST').message).toMatch(/name/);
    expect(expectError(await t.call('POST', '/api/servers', { token: alice.token, json: { name: 'x', owner: bob.id } }), 400, 'BAD_REQUEST').message).toMatch(/owner/);
    expectError(await t.call('POST', '/api/servers', { token: alice.token, json: { name: 'x', iconUrl: 'javascript:alert(1)' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', '/api/servers', { token: alice.token, json: { name: 'line\nbreak' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', '/api/servers', { token: alice.token, raw: '{"name":' }), 400, 'BAD_REQUEST');
    expectError(await t.call('GET', '/api/servers/not-a-uuid', { token: alice.token }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', '/api/servers', { json: { name: 'x' } }), 401, 'UNAUTHENTICATED');
    expectError(await t.call('GET', '/api/users/@me/servers', { token: 'garbage' }), 401, 'UNAUTHENTICATED');
  });

  test('non-members and unknown ids are the same 404', async () => {
    const server = await createServer(t, alice);
    const unknown = expectError(await t.call('GET', `/api/servers/${UNKNOWN}`, { token: bob.token }), 404, 'NOT_FOUND');
    const foreign = expectError(await t.call('GET', `/api/servers/${server.id}`, { token: bob.token }), 404, 'NOT_FOUND');
    expect(foreign.message).toBe(unknown.message);
    expectError(await t.call('PATCH', `/api/servers/${server.id}`, { token: bob.token, json: { name: 'mine' } }), 404, 'NOT_FOUND');
    expectError(await t.call('DELETE', `/api/servers/${server.id}`, { token: bob.token }), 404, 'NOT_FOUND');
    expectError(await t.call('GET', `/api/servers/${server.id}/channels`, { token: bob.token }), 404, 'NOT_FOUND');
  });

  test('update needs MANAGE_SERVER and is published to every member', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    expectError(await t.call('PATCH', `/api/servers/${server.id}`, { token: bob.token, json: { name: 'bob’s now' } }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', `/api/servers/${server.id}`, { token: alice.token, json: {} }), 400, 'BAD_REQUEST');

    await createRole(t, server, alice, Permission.MANAGE_SERVER, [bob]);
    t.publisher.clear();
    const updated = Server.parse(expectStatus(await t.call('PATCH', `/api/servers/${server.id}`, { token: bob.token, json: { name: 'Renamed', iconUrl: null } }), 200));
    expect(updated).toMatchObject({ id: server.id, name: 'Renamed', iconUrl: null, ownerId: alice.id });
    expect(t.publisher.of('server:updated')).toEqual([{ event: 'server:updated', userIds: [alice.id, bob.id, carol.id].sort(), data: { server: updated } }]);
    // Read again at once: the cached server info was invalidated.
    expect(expectStatus(await t.call('GET', `/api/servers/${server.id}`, { token: carol.token }), 200)).toMatchObject({ name: 'Renamed' });
  });

  test('only the owner deletes; members learn of it and leave its room', async () => {
    const server = await createServer(t, alice, [bob]);
    await createRole(t, server, alice, Permission.ADMINISTRATOR, [bob]);
    expectError(await t.call('DELETE', `/api/servers/${server.id}`, { token: bob.token }), 403, 'FORBIDDEN');
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}`, { token: alice.token }), 204);
    expect(t.publisher.of('server:deleted')).toEqual([{ event: 'server:deleted', userIds: [alice.id, bob.id].sort(), data: { serverId: server.id } }]);
    expect(t.publisher.rooms.filter((r) => r.op === 'remove').map((r) => r.userId).sort()).toEqual([alice.id, bob.id].sort());
    expectError(await t.call('GET', `/api/servers/${server.id}`, { token: alice.token }), 404, 'NOT_FOUND');
    expectError(await t.call('GET', `/api/channels/${server.textChannelId}`, { token: bob.token }), 404, 'NOT_FOUND');
    const bobs = expectStatus(await t.call<Server[]>('GET', '/api/users/@me/servers', { token: bob.token }), 200);
    expect(bobs.map((s) => s.id)).not.toContain(server.id);
  });
});

describe('current user', () => {
  test('read and update my profile; servers I share are told', async () => {
    const dave = await t.signUp('dave');
    const server = await createServer(t, alice, [dave]);
    const me = UserProfile.parse(expectStatus(await t.call('GET', '/api/users/@me', { token: dave.token }), 200));
    expect(me).toEqual({ id: dave.id, username: expect.stringMatching(/^dave/), displayName: 'dave', avatarUrl: null });

    t.publisher.clear();
    const updated = expectStatus(await t.call('PATCH', '/api/users/@me', { token: dave.token, json: { displayName: 'Dave D.', avatarUrl: 'https://example.com/d.png' } }), 200);
    expect(updated).toEqual({ ...me, displayName: 'Dave D.', avatarUrl: 'https://example.com/d.png' });
    expect(t.publisher.of('user:updated')).toEqual([{ event: 'user:updated', userIds: [alice.id, dave.id].sort(), data: { user: updated } }]);
    expect(expectStatus(await t.call('GET', '/api/users/@me', { token: dave.token }), 200)).toEqual(updated);
    // The member list shows the new name at once.
    const members = expectStatus(await t.call<{ user: { id: string; displayName: string } }[]>('GET', `/api/servers/${server.id}/members`, { token: alice.token }), 200);
    expect(members.find((m) => m.user.id === dave.id)?.user.displayName).toBe('Dave D.');

    expectError(await t.call('PATCH', '/api/users/@me', { token: dave.token, json: { displayName: '' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', '/api/users/@me', { token: dave.token, json: { avatarUrl: 'ftp://x' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', '/api/users/@me', { json: { displayName: 'x' } }), 401, 'UNAUTHENTICATED');
  });
});

describe('openapi.json and metrics', () => {
  test('openapi.json is JSON and lists every route of the API', async () => {
    const reply = await t.call('GET', '/api/openapi.json');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/application\/json/);
    const doc = reply.body as { openapi: string; paths: Record<string, Record<string, { responses: object }>> };
    expect(doc.openapi).toBe('3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([route, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`));
    const expected = [
      'POST /api/auth/local/signup',
      'POST /api/auth/local/signin',
      'GET /api/me',
      'POST /api/auth/sign-out',
      'POST /api/auth/sign-out-everywhere',
      'POST /api/auth/password',
      'GET /api/auth/sessions',
      'DELETE /api/auth/sessions/{sessionId}',
      'POST /api/voice/grant',
      'GET /api/.well-known/jwks.json',
      'GET /api/health',
      'GET /api/config',
      'GET /api/metrics',
      'GET /api/openapi.json',
      'POST /api/servers',
      'GET /api/servers/{serverId}',
      'PATCH /api/servers/{serverId}',
      'DELETE /api/servers/{serverId}',
      'GET /api/users/@me/servers',
      'GET /api/users/@me',
      'PATCH /api/users/@me',
      'GET /api/servers/{serverId}/channels',
      'POST /api/servers/{serverId}/channels',
      'PATCH /api/servers/{serverId}/channels',
      'GET /api/channels/{channelId}',
      'PATCH /api/channels/{channelId}',
      'DELETE /api/channels/{channelId}',
      'PUT /api/channels/{channelId}/overwrites/{targetType}/{targetId}',
      'DELETE /api/channels/{channelId}/overwrites/{targetType}/{targetId}',
      'GET /api/servers/{serverId}/roles',
      'POST /api/servers/{serverId}/roles',
      'PATCH /api/servers/{serverId}/roles',
      'PATCH /api/servers/{serverId}/roles/{roleId}',
      'DELETE /api/servers/{serverId}/roles/{roleId}',
      'PUT /api/servers/{serverId}/members/{userId}/roles/{roleId}',
      'DELETE /api/servers/{serverId}/members/{userId}/roles/{roleId}',
      'GET /api/servers/{serverId}/members',
      'GET /api/servers/{serverId}/members/{userId}',
      'DELETE /api/servers/{serverId}/members/@me',
      'DELETE /api/servers/{serverId}/members/{userId}',
      'PUT /api/servers/{serverId}/bans/{userId}',
      'DELETE /api/servers/{serverId}/bans/{userId}',
      'GET /api/servers/{serverId}/bans',
      'POST /api/servers/{serverId}/invites',
      'GET /api/servers/{serverId}/invites',
      'GET /api/invites/{code}',
      'POST /api/invites/{code}/accept',
      'DELETE /api/invites/{code}',
      // The message half's routes are in the same table.
      'POST /api/channels/{channelId}/messages',
    ];
    expect(listed).toEqual(expect.arrayContaining(expected));
    // Bodies and parameters are described from the same schemas that validate them.
    const createServerOp = doc.paths['/api/servers']!.post as unknown as { requestBody: { content: { 'application/json': { schema: { properties: object; required: string[] } } } } };
    expect(createServerOp.requestBody.content['application/json'].schema).toMatchObject({ properties: { name: expect.any(Object) }, required: ['name'] });
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    // Every operation answers with a documented response, and declares each path parameter.
    for (const [route, methods] of Object.entries(doc.paths)) {
      const placeholders = [...route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(methods) as [string, { responses: object; parameters?: { name: string; in: string }[] }][]) {
        expect({ op: `${method} ${route}`, responses: Object.keys(op.responses).length > 0 }).toEqual({ op: `${method} ${route}`, responses: true });
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
        expect({ op: `${method} ${route}`, declared }).toEqual({ op: `${method} ${route}`, declared: placeholders });
      }
    }
  });

  test('metrics: cache hits and misses per cached data, and the hit ratio', async () => {
    const server = await createServer(t, alice);
    for (let i = 0; i < 3; i += 1) expectStatus(await t.call('GET', `/api/servers/${server.id}/roles`, { token: alice.token }), 200);
    const reply = await t.call<string>('GET', '/api/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/text\/plain/);
    const hits = Number(/concord_cache_requests_total\{cache="roles",result="hit"\} (\d+)/.exec(reply.body)?.[1]);
    expect(hits).toBeGreaterThanOrEqual(2);
    expect(reply.body).toMatch(/concord_cache_requests_total\{cache="roles",result="miss"\} \d+/);
    const ratio = Number(/concord_cache_hit_ratio\{cache="all"\} ([\d.e-]+)/.exec(reply.body)?.[1]);
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
  });

  test('config: no Firebase sign-in unless the project and its web API key are configured', async () => {
    expect(expectStatus(await t.call('GET', '/api/config'), 200)).toEqual({ firebase: null });
  });

  test('with METRICS_TOKEN the metrics need it', async () => {
    const guarded = await startGuildApi({ redis: false, env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    try {
      expectError(await guarded.call('GET', '/api/metrics'), 401, 'UNAUTHENTICATED');
      expectError(await guarded.call('GET', '/api/metrics', { token: 'metrics-token-wrong-56789' }), 401, 'UNAUTHENTICATED');
      expect((await guarded.call('GET', '/api/metrics', { token: 'metrics-token-0123456789' })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
