import { DEFAULT_EVERYONE_PERMISSIONS, Permission, Role } from '@concord/protocol';
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

const roles = async (server: CreatedServer, user: TestUser = alice) => expectStatus(await t.call<Role[]>('GET', `/api/servers/${server.id}/roles`, { token: user.token }), 200);
const positions = async (server: CreatedServer) => Object.fromEntries((await roles(server)).map((role) => [role.name, role.position]));

describe('roles', () => {
  test('create: at the bottom above @everyone, others move up; role:created and role:positions', async () => {
    const server = await createServer(t, alice, [bob]);
    t.publisher.clear();
    const first = Role.parse(expectStatus(await t.call('POST', `/api/servers/${server.id}/roles`, { token: alice.token, json: { name: 'mods', colour: 0xff0000, permissions: Permission.KICK_MEMBERS } }), 201));
    expect(first).toMatchObject({ serverId: server.id, name: 'mods', colour: 0xff0000, permissions: Permission.KICK_MEMBERS, position: 1, isEveryone: false });
    await createRole(t, server, alice, 0, [], 'newbies');
    expect(await positions(server)).toEqual({ '@everyone': 0, newbies: 1, mods: 2 });
    expect(t.publisher.of('role:created').map((p) => [p.data.role.name, p.userIds])).toEqual([
      ['mods', [alice.id, bob.id].sort()],
      ['newbies', [alice.id, bob.id].sort()],
    ]);
    expect(t.publisher.of('role:positions').at(-1)?.data.positions).toHaveLength(3);
  });

  test('create: 403 without MANAGE_ROLES or for permissions the creator lacks; 400 for bad bodies; 404 elsewhere', async () => {
    const server = await createServer(t, alice, [bob]);
    const url = `/api/servers/${server.id}/roles`;
    expectError(await t.call('POST', url, { token: bob.token, json: { name: 'mine' } }), 403, 'FORBIDDEN');
    await createRole(t, server, alice, Permission.MANAGE_ROLES, [bob], 'role-managers');
    expectStatus(await t.call('POST', url, { token: bob.token, json: { name: 'ok', permissions: Permission.SEND_MESSAGES } }), 201);
    expectError(await t.call('POST', url, { token: bob.token, json: { name: 'admins', permissions: Permission.ADMINISTRATOR } }), 403, 'FORBIDDEN');
    expectError(await t.call('POST', url, { token: alice.token, json: { name: 'x', permissions: 2 ** 30 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', url, { token: alice.token, json: { name: 'x', colour: -1 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', url, { token: alice.token, json: {} }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', url, { token: carol.token, json: { name: 'x' } }), 404, 'NOT_FOUND');
  });

  test('update and delete follow the hierarchy; @everyone cannot be renamed or deleted', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    const low = await createRole(t, server, alice, 0, [], 'low');
    const manager = await createRole(t, server, alice, Permission.MANAGE_ROLES | Permission.SEND_MESSAGES, [bob], 'manager');
    const high = await createRole(t, server, alice, 0, [], 'high');
    // Newest at the bottom: high 1, manager 2, low 3 — move them into low < manager < high.
    expectStatus(
      await t.call('PATCH', `/api/servers/${server.id}/roles`, {
        token: alice.token,
        json: [
          { id: low, position: 1 },
          { id: manager, position: 2 },
          { id: high, position: 3 },
        ],
      }),
      200,
    );
    expect(await positions(server)).toEqual({ '@everyone': 0, low: 1, manager: 2, high: 3 });

    const url = (roleId: string) => `/api/servers/${server.id}/roles/${roleId}`;
    const renamed = Role.parse(expectStatus(await t.call('PATCH', url(low), { token: bob.token, json: { name: 'lower', permissions: Permission.SEND_MESSAGES } }), 200));
    expect(renamed).toMatchObject({ name: 'lower', permissions: Permission.SEND_MESSAGES, position: 1 });
    // His own role and roles above it are not his to manage.
    expectError(await t.call('PATCH', url(manager), { token: bob.token, json: { name: 'boss' } }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', url(high), { token: bob.token, json: { colour: 1 } }), 403, 'FORBIDDEN');
    expectError(await t.call('DELETE', url(high), { token: bob.token }), 403, 'FORBIDDEN');
    // Only permissions he holds.
    expectError(await t.call('PATCH', url(low), { token: bob.token, json: { permissions: Permission.BAN_MEMBERS } }), 403, 'FORBIDDEN');
    // No MANAGE_ROLES at all.
    expectError(await t.call('PATCH', url(low), { token: carol.token, json: { name: 'x' } }), 403, 'FORBIDDEN');
    // @everyone
    expectError(await t.call('PATCH', url(server.everyoneRoleId), { token: alice.token, json: { name: 'all' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('DELETE', url(server.everyoneRoleId), { token: alice.token }), 400, 'BAD_REQUEST');
    expectStatus(await t.call('PATCH', url(server.everyoneRoleId), { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS } }), 200);
    expectError(await t.call('PATCH', url(low), { token: bob.token, json: {} }), 400, 'BAD_REQUEST');

    t.publisher.clear();
    expectStatus(await t.call('DELETE', url(low), { token: bob.token }), 204);
    expect(t.publisher.of('role:deleted')).toEqual([{ event: 'role:deleted', userIds: [alice.id, bob.id, carol.id].sort(), data: { serverId: server.id, roleId: low } }]);
    // The gap closes.
    expect(await positions(server)).toEqual({ '@everyone': 0, manager: 1, high: 2 });
    expectError(await t.call('DELETE', url(low), { token: alice.token }), 404, 'NOT_FOUND');
  });

  test('reorder: only roles below my highest, to positions below it; bad moves are 400', async () => {
    const server = await createServer(t, alice, [bob]);
    const a = await createRole(t, server, alice, 0, [], 'a');
    const b = await createRole(t, server, alice, 0, [], 'b');
    const boss = await createRole(t, server, alice, Permission.MANAGE_ROLES, [], 'boss');
    // boss 1, b 2, a 3 → a 1, b 2, boss 3; then bob gets boss.
    expectStatus(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: alice.token, json: [{ id: a, position: 1 }, { id: boss, position: 3 }] }), 200);
    expect(await positions(server)).toEqual({ '@everyone': 0, a: 1, b: 2, boss: 3 });
    expectStatus(await t.call('PUT', `/api/servers/${server.id}/members/${bob.id}/roles/${boss}`, { token: alice.token }), 204);

    t.publisher.clear();
    const swapped = expectStatus(await t.call<Role[]>('PATCH', `/api/servers/${server.id}/roles`, { token: bob.token, json: [{ id: b, position: 1 }] }), 200);
    expect(Object.fromEntries(swapped.map((role) => [role.name, role.position]))).toEqual({ '@everyone': 0, b: 1, a: 2, boss: 3 });
    expect(t.publisher.of('role:positions')).toHaveLength(1);
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: bob.token, json: [{ id: a, position: 3 }] }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: bob.token, json: [{ id: boss, position: 1 }] }), 403, 'FORBIDDEN');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: alice.token, json: [{ id: a, position: 9 }] }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: alice.token, json: [{ id: server.everyoneRoleId, position: 1 }] }), 400, 'BAD_REQUEST');
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: alice.token, json: [{ id: a, position: 1 }, { id: b, position: 1 }] }), 400, 'BAD_REQUEST');
    const foreign = await createServer(t, carol);
    expectError(await t.call('PATCH', `/api/servers/${server.id}/roles`, { token: alice.token, json: [{ id: foreign.everyoneRoleId, position: 1 }] }), 404, 'NOT_FOUND');
  });

  test('member roles: add and remove within the hierarchy; member:updated; 404 for strangers and foreign roles', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    // New roles start at the bottom: helper (1) ends up below manager (2).
    const manager = await createRole(t, server, alice, Permission.MANAGE_ROLES, [bob], 'manager');
    const helper = await createRole(t, server, alice, 0, [], 'helper');
    const url = (userId: string, roleId: string) => `/api/servers/${server.id}/members/${userId}/roles/${roleId}`;

    t.publisher.clear();
    expectStatus(await t.call('PUT', url(carol.id, helper), { token: bob.token }), 204);
    expect(t.publisher.of('member:updated')).toEqual([
      { event: 'member:updated', userIds: [alice.id, bob.id, carol.id].sort(), data: { member: expect.objectContaining({ serverId: server.id, roleIds: [helper] }) } },
    ]);
    // Again: nothing changes, nothing is published.
    t.publisher.clear();
    expectStatus(await t.call('PUT', url(carol.id, helper), { token: bob.token }), 204);
    expect(t.publisher.published).toEqual([]);

    expectError(await t.call('PUT', url(carol.id, manager), { token: bob.token }), 403, 'FORBIDDEN');
    expectError(await t.call('PUT', url(bob.id, helper), { token: carol.token }), 403, 'FORBIDDEN');
    expectError(await t.call('PUT', url(carol.id, server.everyoneRoleId), { token: alice.token }), 400, 'BAD_REQUEST');
    const stranger = await t.signUp('stranger');
    expectError(await t.call('PUT', url(stranger.id, helper), { token: alice.token }), 404, 'NOT_FOUND');
    const foreign = await createServer(t, carol);
    expectError(await t.call('PUT', url(carol.id, foreign.everyoneRoleId), { token: alice.token }), 404, 'NOT_FOUND');

    expectStatus(await t.call('DELETE', url(carol.id, helper), { token: bob.token }), 204);
    const member = expectStatus(await t.call('GET', `/api/servers/${server.id}/members/${carol.id}`, { token: alice.token }), 200);
    expect(member.roleIds).toEqual([]);
  });
});

describe('cache invalidation', () => {
  test('no stale permission after a role change, a member role change or a role deletion', async () => {
    const server = await createServer(t, alice, [bob]);
    const base = `/api/servers/${server.id}/channels`;
    const tryCreate = async () => (await t.call('POST', base, { token: bob.token, json: { name: 'by-bob' } })).status;
    // Warm the cache with bob's view, then change what it depends on and read again at once.
    expect(await tryCreate()).toBe(403);
    const role = await createRole(t, server, alice, 0, [bob], 'builders');
    expect(await tryCreate()).toBe(403);
    expectStatus(await t.call('PATCH', `/api/servers/${server.id}/roles/${role}`, { token: alice.token, json: { permissions: Permission.MANAGE_CHANNELS } }), 200);
    expect(await tryCreate()).toBe(201);
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/members/${bob.id}/roles/${role}`, { token: alice.token }), 204);
    expect(await tryCreate()).toBe(403);
    expectStatus(await t.call('PUT', `/api/servers/${server.id}/members/${bob.id}/roles/${role}`, { token: alice.token }), 204);
    expect(await tryCreate()).toBe(201);
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/roles/${role}`, { token: alice.token }), 204);
    expect(await tryCreate()).toBe(403);
    expectStatus(await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS | Permission.MANAGE_CHANNELS } }), 200);
    expect(await tryCreate()).toBe(201);
  });

  test('two API instances sharing Redis: a write on one is seen at once by the other', async () => {
    const sameKey = t.api.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const second = await startGuildApi({ database: t.database!, keyPrefix: t.keyPrefix, env: { API_PRIVATE_KEY_PEM: sameKey } });
    try {
      const server = await createServer(t, alice, [bob]);
      const secret = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'secret' } }), 201);
      const visibleOnSecond = async () =>
        expectStatus(await second.call<{ id: string }[]>('GET', `/api/servers/${server.id}/channels`, { token: bob.token }), 200).some((c) => c.id === secret.id);
      expect(await visibleOnSecond()).toBe(true);
      expect(await visibleOnSecond()).toBe(true); // now from the shared cache
      expectStatus(await t.call('PUT', `/api/channels/${secret.id}/overwrites/member/${bob.id}`, { token: alice.token, json: { allow: 0, deny: Permission.VIEW_CHANNEL } }), 200);
      expect(await visibleOnSecond()).toBe(false);
      // And the other way round: a kick on the second instance.
      expectStatus(await t.call('GET', `/api/servers/${server.id}`, { token: bob.token }), 200);
      await createRole(second, server, alice, Permission.KICK_MEMBERS, [], 'kickers');
      expectStatus(await second.call('DELETE', `/api/servers/${server.id}/members/${bob.id}`, { token: alice.token }), 204);
      expectError(await t.call('GET', `/api/servers/${server.id}`, { token: bob.token }), 404, 'NOT_FOUND');
    } finally {
      await second.close();
    }
  });

  test('the embedded (in-process) cache invalidates as well', async () => {
    const local = await startGuildApi({ redis: false });
    try {
      const [owner, member] = await Promise.all([local.signUp('owner'), local.signUp('member')]);
      const server = await createServer(local, owner, [member]);
      const view = async () => expectStatus(await local.call('GET', `/api/servers/${server.id}`, { token: member.token }), 200).permissions as number;
      expect(await view()).toBe(DEFAULT_EVERYONE_PERMISSIONS);
      await createRole(local, server, owner, Permission.MANAGE_SERVER, [member]);
      expect(await view()).toBe(DEFAULT_EVERYONE_PERMISSIONS | Permission.MANAGE_SERVER);
    } finally {
      await local.close();
    }
  });
});
