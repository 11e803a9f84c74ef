import pg from 'pg';
import { Invite, InvitePreview, Member, Permission, Server } from '@concord/protocol';
import { createRole, createServer, expectError, expectStatus, startGuildApi, type CreatedServer, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';
import { raceInserts } from '@concord/testkit/src/insert-barrier';

let t: GuildTestApi;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  t = await startGuildApi();
  [alice, bob, carol] = await Promise.all([t.signUp('alice'), t.signUp('bob'), t.signUp('carol')]);
});

afterAll(() => t?.close());

const members = async (server: CreatedServer, user: TestUser = alice, query = '') =>
  expectStatus(await t.call<Member[]>('GET', `/api/servers/${server.id}/members${query}`, { token: user.token }), 200);

describe('invites', () => {
  test('create, inspect, accept: the new member joins, everyone is told, the socket joins the room', async () => {
    const server = await createServer(t, alice);
    const invite = Invite.parse(expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxAgeSeconds: 3600, maxUses: 5 } }), 201));
    expect(invite).toMatchObject({ serverId: server.id, creatorId: alice.id, maxUses: 5, uses: 0 });
    expect(Date.parse(invite.expiresAt!) - Date.now()).toBeGreaterThan(3_500_000);

    const preview = InvitePreview.parse(expectStatus(await t.call('GET', `/api/invites/${invite.code}`, { token: bob.token }), 200));
    expect(preview).toEqual({ code: invite.code, server: { id: server.id, name: 'test server', iconUrl: null }, memberCount: 1, expiresAt: invite.expiresAt });
    expectError(await t.call('GET', `/api/invites/${invite.code}`), 401, 'UNAUTHENTICATED');

    t.publisher.clear();
    const joined = Server.parse(expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: bob.token }), 200));
    expect(joined.id).toBe(server.id);
    expect(t.publisher.of('member:joined')).toEqual([
      { event: 'member:joined', userIds: [alice.id, bob.id].sort(), data: { member: expect.objectContaining({ serverId: server.id, roleIds: [], user: expect.objectContaining({ id: bob.id }) }) } },
    ]);
    expect(t.publisher.rooms).toEqual([{ op: 'add', userId: bob.id, serverId: server.id }]);
    // A member already: answered with the server, no use taken.
    expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: bob.token }), 200);
    const listed = expectStatus(await t.call<Invite[]>('GET', `/api/servers/${server.id}/invites`, { token: alice.token }), 200);
    expect(listed.find((i) => i.code === invite.code)?.uses).toBe(1);
    expect(expectStatus(await t.call('GET', `/api/invites/${invite.code}`, { token: carol.token }), 200).memberCount).toBe(2);
    const bobs = expectStatus(await t.call<Server[]>('GET', '/api/users/@me/servers', { token: bob.token }), 200);
    expect(bobs.map((s) => s.id)).toContain(server.id);
  });

  test('400 for bad bodies and codes, 403 without CREATE_INVITE, 404 for unknown, expired and used-up invites', async () => {
    const server = await createServer(t, alice, [bob]);
    expectError(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxUses: -1 } }), 400, 'BAD_REQUEST');
    expectError(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxAgeSeconds: 'soon' } }), 400, 'BAD_REQUEST');
    expectError(await t.call('GET', '/api/invites/no!', { token: bob.token }), 400, 'BAD_REQUEST');
    expectError(await t.call('GET', '/api/invites/nosuchcode', { token: bob.token }), 404, 'NOT_FOUND');
    expectError(await t.call('POST', '/api/invites/nosuchcode/accept', { token: bob.token }), 404, 'NOT_FOUND');
    expectError(await t.call('POST', `/api/servers/${server.id}/invites`, { token: carol.token, json: {} }), 404, 'NOT_FOUND');
    expectError(await t.call('GET', `/api/servers/${server.id}/invites`, { token: bob.token }), 403, 'FORBIDDEN');

    expectStatus(await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: Permission.VIEW_CHANNEL } }), 200);
    expectError(await t.call('POST', `/api/servers/${server.id}/invites`, { token: bob.token, json: {} }), 403, 'FORBIDDEN');

    const once = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxUses: 1 } }), 201);
    expectStatus(await t.call('POST', `/api/invites/${once.code}/accept`, { token: carol.token }), 200);
    const dave = await t.signUp('dave');
    expectError(await t.call('GET', `/api/invites/${once.code}`, { token: dave.token }), 404, 'NOT_FOUND');
    expectError(await t.call('POST', `/api/invites/${once.code}/accept`, { token: dave.token }), 404, 'NOT_FOUND');

    const expiring = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxAgeSeconds: 60 } }), 201);
    await expire(expiring.code);
    expectError(await t.call('POST', `/api/invites/${expiring.code}/accept`, { token: dave.token }), 404, 'NOT_FOUND');

    // Revoking: the creator or MANAGE_SERVER.
    const revocable = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxAgeSeconds: 0 } }), 201);
    expect(revocable.expiresAt).toBeNull();
    expectError(await t.call('DELETE', `/api/invites/${revocable.code}`, { token: bob.token }), 403, 'FORBIDDEN');
    expectStatus(await t.call('DELETE', `/api/invites/${revocable.code}`, { token: alice.token }), 204);
    expectError(await t.call('GET', `/api/invites/${revocable.code}`, { token: bob.token }), 404, 'NOT_FOUND');
  });

  test('the last use, accepted by two users at once: exactly one gets in', async () => {
    const server = await createServer(t, alice);
    const invite = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: { maxUses: 2 } }), 201);
    expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: bob.token }), 200);
    const [dave, erin] = await Promise.all([t.signUp('dave'), t.signUp('erin')]);
    // Both UPDATEs of the invite are held until both are queued, then released together.
    const replies = await raceInserts(t.database!.url, 'invites', 2, () =>
      Promise.all([dave, erin].map((user) => t.call('POST', `/api/invites/${invite.code}/accept`, { token: user.token }))),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 404]);
    const ids = (await members(server)).map((m) => m.user.id);
    expect(ids.filter((id) => id === dave.id || id === erin.id)).toHaveLength(1);
    expect(expectStatus(await t.call<Invite[]>('GET', `/api/servers/${server.id}/invites`, { token: alice.token }), 200)[0]!.uses).toBe(2);
  });
});

async function expire(code: string): Promise<void> {
  const client = new pg.Client({ connectionString: t.database!.url });
  await client.connect();
  try {
    await client.query("UPDATE invites SET expires_at = now() - interval '1 second' WHERE code = $1", [code]);
  } finally {
    await client.end();
  }
}

describe('members', () => {
  test('list with roles, paged by user id; one member; 404 for non-members', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    const role = await createRole(t, server, alice, 0, [carol], 'tagged');
    const all = await members(server, bob);
    expect(all.map((m) => m.user.id).sort()).toEqual([alice.id, bob.id, carol.id].sort());
    expect(all.find((m) => m.user.id === carol.id)).toMatchObject({ serverId: server.id, roleIds: [role], nickname: null, user: { displayName: 'carol' } });
    const first = await members(server, bob, '?limit=2');
    const rest = await members(server, bob, `?after=${first[1]!.user.id}`);
    expect([...first, ...rest].map((m) => m.user.id)).toEqual(all.map((m) => m.user.id));
    expectError(await t.call('GET', `/api/servers/${server.id}/members?limit=0`, { token: bob.token }), 400, 'BAD_REQUEST');
    expectError(await t.call('GET', `/api/servers/${server.id}/members?bogus=1`, { token: bob.token }), 400, 'BAD_REQUEST');
    expect(expectStatus(await t.call('GET', `/api/servers/${server.id}/members/${bob.id}`, { token: carol.token }), 200)).toMatchObject({ user: { id: bob.id } });
    const stranger = await t.signUp('stranger');
    expectError(await t.call('GET', `/api/servers/${server.id}/members`, { token: stranger.token }), 404, 'NOT_FOUND');
    expectError(await t.call('GET', `/api/servers/${server.id}/members/${stranger.id}`, { token: bob.token }), 404, 'NOT_FOUND');
  });

  test('with a presence store, members come with their presence', async () => {
    const online = new Set<string>();
    const withPresence = await startGuildApi({
      redis: false,
      presence: { statusOf: async (ids) => new Map(ids.map((id) => [id, online.has(id) ? ('online' as const) : ('offline' as const)])) },
    });
    try {
      const [owner, guest] = await Promise.all([withPresence.signUp('owner'), withPresence.signUp('guest')]);
      const server = await createServer(withPresence, owner, [guest]);
      online.add(guest.id);
      const listed = expectStatus(await withPresence.call<Member[]>('GET', `/api/servers/${server.id}/members`, { token: owner.token }), 200);
      expect(Object.fromEntries(listed.map((m) => [m.user.id, m.presence]))).toEqual({ [owner.id]: 'offline', [guest.id]: 'online' });
      // A cluster API (the one above has REDIS_URL) reads the presence signaling keeps in Redis: nobody is connected there.
      expect((await members(await createServer(t, alice))).every((m) => m.presence === 'offline')).toBe(true);
    } finally {
      await withPresence.close();
    }
  });

    test('leave: the member goes, everyone (them included) is told; the owner cannot leave', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/members/@me`, { token: carol.token }), 204);
    expect(t.publisher.of('member:left')).toEqual([{ event: 'member:left', userIds: [alice.id, bob.id, carol.id].sort(), data: { serverId: server.id, userId: carol.id, reason: 'left' } }]);
    expect(t.publisher.rooms).toEqual([{ op: 'remove', userId: carol.id, serverId: server.id }]);
    expectError(await t.call('GET', `/api/servers/${server.id}`, { token: carol.token }), 404, 'NOT_FOUND');
    expectError(await t.call('DELETE', `/api/servers/${server.id}/members/@me`, { token: carol.token }), 404, 'NOT_FOUND');
    expectError(await t.call('DELETE', `/api/servers/${server.id}/members/@me`, { token: alice.token }), 409, 'CONFLICT');
  });

  test('kick: KICK_MEMBERS and a higher role; never the owner or oneself', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    const url = (userId: string) => `/api/servers/${server.id}/members/${userId}`;
    expectError(await t.call('DELETE', url(carol.id), { token: bob.token }), 403, 'FORBIDDEN');
    const kickers = await createRole(t, server, alice, Permission.KICK_MEMBERS, [bob], 'kickers');
    // Same highest role: neither ranks above the other.
    expectStatus(await t.call('PUT', `/api/servers/${server.id}/members/${carol.id}/roles/${kickers}`, { token: alice.token }), 204);
    expectError(await t.call('DELETE', url(carol.id), { token: bob.token }), 403, 'FORBIDDEN');
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/members/${carol.id}/roles/${kickers}`, { token: alice.token }), 204);
    expectError(await t.call('DELETE', url(alice.id), { token: bob.token }), 403, 'FORBIDDEN');
    expectError(await t.call('DELETE', url(bob.id), { token: bob.token }), 400, 'BAD_REQUEST');
    const stranger = await t.signUp('stranger');
    expectError(await t.call('DELETE', url(stranger.id), { token: bob.token }), 404, 'NOT_FOUND');

    t.publisher.clear();
    expectStatus(await t.call('DELETE', url(carol.id), { token: bob.token }), 204);
    expect(t.publisher.of('member:left')[0]).toMatchObject({ userIds: [alice.id, bob.id, carol.id].sort(), data: { userId: carol.id, reason: 'kicked' } });
    expectError(await t.call('GET', `/api/servers/${server.id}/channels`, { token: carol.token }), 404, 'NOT_FOUND');
    // A kicked member may come back with an invite.
    const invite = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: {} }), 201);
    expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: carol.token }), 200);
  });

  test('ban: removes the member, keeps them out of invites, and is lifted by unban', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    const url = (userId: string) => `/api/servers/${server.id}/bans/${userId}`;
    expectError(await t.call('PUT', url(carol.id), { token: bob.token, json: {} }), 403, 'FORBIDDEN');
    await createRole(t, server, alice, Permission.BAN_MEMBERS, [bob], 'banners');
    expectError(await t.call('PUT', url(alice.id), { token: bob.token, json: {} }), 403, 'FORBIDDEN');
    expectError(await t.call('PUT', url(carol.id), { token: bob.token, json: { reason: 'x'.repeat(600) } }), 400, 'BAD_REQUEST');
    expectError(await t.call('PUT', url('0190a5f0-0000-7000-8000-000000000000'), { token: bob.token, json: {} }), 404, 'NOT_FOUND');

    t.publisher.clear();
    expectStatus(await t.call('PUT', url(carol.id), { token: bob.token, json: { reason: 'spam' } }), 204);
    expect(t.publisher.of('member:left')[0]).toMatchObject({ data: { userId: carol.id, reason: 'banned' } });
    expect(t.publisher.rooms).toEqual([{ op: 'remove', userId: carol.id, serverId: server.id }]);
    expectError(await t.call('GET', `/api/servers/${server.id}`, { token: carol.token }), 404, 'NOT_FOUND');
    const bans = expectStatus(await t.call('GET', `/api/servers/${server.id}/bans`, { token: bob.token }), 200);
    expect(bans).toEqual([expect.objectContaining({ user: expect.objectContaining({ id: carol.id }), reason: 'spam', bannedBy: bob.id })]);
    expectError(await t.call('GET', `/api/servers/${server.id}/bans`, { token: carol.token }), 404, 'NOT_FOUND');

    const invite = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: alice.token, json: {} }), 201);
    expectError(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: carol.token }), 403, 'FORBIDDEN');
    // Users who are not members can be banned ahead of time.
    const raider = await t.signUp('raider');
    expectStatus(await t.call('PUT', url(raider.id), { token: bob.token, json: {} }), 204);
    expectError(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: raider.token }), 403, 'FORBIDDEN');

    expectStatus(await t.call('DELETE', url(carol.id), { token: bob.token }), 204);
    expectError(await t.call('DELETE', url(carol.id), { token: bob.token }), 404, 'NOT_FOUND');
    expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: carol.token }), 200);
  });
});
