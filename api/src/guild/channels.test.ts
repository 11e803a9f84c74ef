import { Channel, ChannelView, Permission } from '@concord/protocol';
import { createRole, createServer, expectError, expectStatus, startGuildApi, type CreatedServer, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';

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

const listChannels = async (user: TestUser, server: CreatedServer) =>
  expectStatus(await t.call<ChannelView[]>('GET', `/api/servers/${server.id}/channels`, { token: user.token }), 200);

describe('channels', () => {
  let server: CreatedServer;
  let other: CreatedServer;

  beforeAll(async () => {
    server = await createServer(t, alice, [bob, carol]);
    other = await createServer(t, carol, [], 'carol’s');
  });

  test('create text, voice and category channels, a channel inside a category', async () => {
    t.publisher.clear();
    const category = Channel.parse(expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'Stuff', kind: 'category' } }), 201));
    const inside = Channel.parse(
      expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'news', topic: 'what happened', parentId: category.id } }), 201),
    );
    expect(inside).toMatchObject({ kind: 'text', name: 'news', topic: 'what happened', parentId: category.id, serverId: server.id, overwrites: [] });
    const voice = Channel.parse(expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'Loud', kind: 'voice', position: 7 } }), 201));
    expect(voice.position).toBe(7);
    expect(t.publisher.of('channel:created').map((p) => [p.data.channel.name, p.userIds])).toEqual([
      ['Stuff', [alice.id, bob.id, carol.id].sort()],
      ['news', [alice.id, bob.id, carol.id].sort()],
      ['Loud', [alice.id, bob.id, carol.id].sort()],
    ]);
    const listed = await listChannels(bob, server);
    expect(listed.map((c) => c.name)).toEqual(expect.arrayContaining(['general', 'General', 'Stuff', 'news', 'Loud']));
    expect(expectStatus(await t.call('GET', `/api/channels/${inside.id}`, { token: carol.token }), 200)).toMatchObject({ id: inside.id, permissions: expect.any(Number) });
  });

  test('create: 400 for bad bodies and nesting, 403 without MANAGE_CHANNELS, 404 for unknown or foreign parents', async () => {
    const base = `/api/servers/${server.id}/channels`;
    expectError(await t.call('POST', base, { token: alice.token, json: { name: 'x', kind: 'stage' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', base, { token: alice.token, json: { name: '' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', base, { token: alice.token, json: { name: 'x', parentId: server.textChannelId } }), 400, 'BAD_REQUEST');
    const category = expectStatus(await t.call('POST', base, { token: alice.token, json: { name: 'cat', kind: 'category' } }), 201);
    expectError(await t.call('POST', base, { token: alice.token, json: { name: 'nested', kind: 'category', parentId: category.id } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', base, { token: bob.token, json: { name: 'bobs' } }), 403, 'FORBIDDEN');
    expectError(await t.call('POST', base, { token: alice.token, json: { name: 'x', parentId: UNKNOWN } }), 404, 'NOT_FOUND');
    const foreignCategory = expectStatus(await t.call('POST', `/api/servers/${other.id}/channels`, { token: carol.token, json: { name: 'c', kind: 'category' } }), 201);
    expectError(await t.call('POST', base, { token: alice.token, json: { name: 'x', parentId: foreignCategory.id } }), 404, 'NOT_FOUND');
    expectError(await t.call('POST', base, { json: { name: 'x' } }), 401, 'UNAUTHENTICATED');
  });

  test('update and delete need MANAGE_CHANNELS; ids of another server are 404', async () => {
    const channel = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'temp' } }), 201);
    expectError(await t.call('PATCH', `/api/channels/${channel.id}`, { token: bob.token, json: { name: 'mine' } }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', `/api/channels/${channel.id}`, { token: alice.token, json: {} }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', `/api/channels/${channel.id}`, { token: alice.token, json: { parentId: channel.id } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', `/api/channels/${other.textChannelId}`, { token: alice.token, json: { name: 'x' } }), 404, 'NOT_FOUND');
    expectError(await t.call('GET', `/api/channels/${other.textChannelId}`, { token: bob.token }), 404, 'NOT_FOUND');
    expectError(await t.call('DELETE', `/api/channels/${UNKNOWN}`, { token: alice.token }), 404, 'NOT_FOUND');

    await createRole(t, server, alice, Permission.MANAGE_CHANNELS, [bob]);
    t.publisher.clear();
    const renamed = expectStatus(await t.call('PATCH', `/api/channels/${channel.id}`, { token: bob.token, json: { name: 'renamed', topic: 'a topic' } }), 200);
    expect(renamed).toMatchObject({ id: channel.id, name: 'renamed', topic: 'a topic' });
    expect(t.publisher.of('channel:updated')).toHaveLength(1);
    expect(expectStatus(await t.call('GET', `/api/channels/${channel.id}`, { token: carol.token }), 200)).toMatchObject({ name: 'renamed' });

    expectError(await t.call('DELETE', `/api/channels/${channel.id}`, { token: carol.token }), 403, 'FORBIDDEN');
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/channels/${channel.id}`, { token: bob.token }), 204);
    expect(t.publisher.of('channel:deleted')).toEqual([{ event: 'channel:deleted', userIds: [alice.id, bob.id, carol.id].sort(), data: { serverId: server.id, channelId: channel.id } }]);
    expectError(await t.call('GET', `/api/channels/${channel.id}`, { token: alice.token }), 404, 'NOT_FOUND');
    expect((await listChannels(alice, server)).map((c) => c.id)).not.toContain(channel.id);
  });

  test('deleting a category moves its channels to the top level', async () => {
    const category = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'old', kind: 'category' } }), 201);
    const child = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'kid', parentId: category.id } }), 201);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/channels/${category.id}`, { token: alice.token }), 204);
    expect(expectStatus(await t.call('GET', `/api/channels/${child.id}`, { token: alice.token }), 200)).toMatchObject({ parentId: null });
    expect(t.publisher.of('channel:updated').map((p) => p.data.channel)).toEqual([expect.objectContaining({ id: child.id, parentId: null })]);
  });

  test('reorder: positions and categories in one request', async () => {
    const category = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'sorted', kind: 'category' } }), 201);
    const reply = await t.call<Channel[]>('PATCH', `/api/servers/${server.id}/channels`, {
      token: alice.token,
      json: [
        { id: server.voiceChannelId, position: 0, parentId: category.id },
        { id: server.textChannelId, position: 1 },
      ],
    });
    const channels = expectStatus(reply, 200);
    expect(channels.find((c) => c.id === server.voiceChannelId)).toMatchObject({ position: 0, parentId: category.id });
    expect(channels.find((c) => c.id === server.textChannelId)).toMatchObject({ position: 1, parentId: null });
    expectError(await t.call('PATCH', `/api/servers/${server.id}/channels`, { token: carol.token, json: [{ id: server.textChannelId, position: 0 }] }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/channels`, { token: alice.token, json: [{ id: other.textChannelId, position: 0 }] }), 404, 'NOT_FOUND');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/channels`, { token: alice.token, json: [] }), 400, 'BAD_REQUEST');
    expectError(
      await t.call('PATCH', `/api/servers/${server.id}/channels`, { token: alice.token, json: [{ id: server.textChannelId, position: 0, parentId: server.voiceChannelId }] }),
      400,
      'BAD_REQUEST',
    );
  });
});

describe('permission overwrites', () => {
  let server: CreatedServer;

  beforeAll(async () => {
    server = await createServer(t, alice, [bob, carol]);
  });

  test('a role overwrite hides a channel from the role at once; they get channel:deleted, the rest channel:updated', async () => {
    const secret = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'secret' } }), 201);
    const muted = await createRole(t, server, alice, 0, [bob], 'muted');
    expect((await listChannels(bob, server)).map((c) => c.id)).toContain(secret.id);

    t.publisher.clear();
    const channel = Channel.parse(
      expectStatus(await t.call('PUT', `/api/channels/${secret.id}/overwrites/role/${muted}`, { token: alice.token, json: { allow: 0, deny: Permission.VIEW_CHANNEL } }), 200),
    );
    expect(channel.overwrites).toEqual([{ targetType: 'role', targetId: muted, allow: 0, deny: Permission.VIEW_CHANNEL }]);
    // No stale permission: read right after the write.
    expect((await listChannels(bob, server)).map((c) => c.id)).not.toContain(secret.id);
    expectError(await t.call('GET', `/api/channels/${secret.id}`, { token: bob.token }), 404, 'NOT_FOUND');
    expect(t.publisher.of('channel:deleted')).toEqual([{ event: 'channel:deleted', userIds: [bob.id], data: { serverId: server.id, channelId: secret.id } }]);
    expect(t.publisher.of('channel:updated').map((p) => p.userIds)).toEqual([[alice.id, carol.id].sort()]);

    // A member overwrite beats the role's: bob sees it again, and is told it (re)appeared.
    t.publisher.clear();
    expectStatus(await t.call('PUT', `/api/channels/${secret.id}/overwrites/member/${bob.id}`, { token: alice.token, json: { allow: Permission.VIEW_CHANNEL, deny: 0 } }), 200);
    expect((await listChannels(bob, server)).map((c) => c.id)).toContain(secret.id);
    expect(t.publisher.of('channel:created').map((p) => p.userIds)).toEqual([[bob.id]]);

    expectStatus(await t.call('DELETE', `/api/channels/${secret.id}/overwrites/member/${bob.id}`, { token: alice.token }), 204);
    expect((await listChannels(bob, server)).map((c) => c.id)).not.toContain(secret.id);
    expectError(await t.call('DELETE', `/api/channels/${secret.id}/overwrites/member/${bob.id}`, { token: alice.token }), 404, 'NOT_FOUND');
  });

  test('MANAGE_ROLES is required, and only bits the editor holds in the channel', async () => {
    const url = (targetType: string, targetId: string) => `/api/channels/${server.textChannelId}/overwrites/${targetType}/${targetId}`;
    expectError(await t.call('PUT', url('role', server.everyoneRoleId), { token: bob.token, json: { allow: 0, deny: Permission.SEND_MESSAGES } }), 403, 'FORBIDDEN');

    await createRole(t, server, alice, Permission.MANAGE_ROLES, [bob], 'perms');
    // bob has SEND_MESSAGES (from @everyone): he may deny it…
    expectStatus(await t.call('PUT', url('role', server.everyoneRoleId), { token: bob.token, json: { allow: 0, deny: Permission.SEND_MESSAGES } }), 200);
    // …but not allow or deny what he lacks.
    expectError(await t.call('PUT', url('role', server.everyoneRoleId), { token: bob.token, json: { allow: Permission.MANAGE_MESSAGES, deny: 0 } }), 403, 'FORBIDDEN');
    expectError(await t.call('PUT', url('member', carol.id), { token: bob.token, json: { allow: 0, deny: Permission.BAN_MEMBERS } }), 403, 'FORBIDDEN');
    // An overwrite holding a bit he lacks is not his to remove.
    expectStatus(await t.call('PUT', url('member', carol.id), { token: alice.token, json: { allow: Permission.MANAGE_MESSAGES, deny: 0 } }), 200);
    expectError(await t.call('DELETE', url('member', carol.id), { token: bob.token }), 403, 'FORBIDDEN');
    expectError(await t.call('PUT', url('member', carol.id), { token: bob.token, json: { allow: 0, deny: 0 } }), 403, 'FORBIDDEN');
  });

  test('400 for overlapping or unknown bits and bad target types; 404 for targets of another server', async () => {
    const foreign = await createServer(t, carol, [], 'elsewhere');
    const url = (targetType: string, targetId: string) => `/api/channels/${server.textChannelId}/overwrites/${targetType}/${targetId}`;
    const both = Permission.SEND_MESSAGES;
    expectError(await t.call('PUT', url('role', server.everyoneRoleId), { token: alice.token, json: { allow: both, deny: both } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PUT', url('role', server.everyoneRoleId), { token: alice.token, json: { allow: 2 ** 40, deny: 0 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PUT', url('role', server.everyoneRoleId), { token: alice.token, json: { allow: 0 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PUT', url('group', server.everyoneRoleId), { token: alice.token, json: { allow: 0, deny: 0 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PUT', url('role', foreign.everyoneRoleId), { token: alice.token, json: { allow: 0, deny: 0 } }), 404, 'NOT_FOUND');
    const stranger = await t.signUp('stranger');
    expectError(await t.call('PUT', url('member', stranger.id), { token: alice.token, json: { allow: 0, deny: 0 } }), 404, 'NOT_FOUND');
    expectError(await t.call('PUT', `/api/channels/${foreign.textChannelId}/overwrites/role/${foreign.everyoneRoleId}`, { token: alice.token, json: { allow: 0, deny: 0 } }), 404, 'NOT_FOUND');
  });
});
