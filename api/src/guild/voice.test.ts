import { decodeJwt } from 'jose';
import { DEFAULT_EVERYONE_PERMISSIONS, Permission, VoiceGrantClaims, VoiceGrantResponse } from '@concord/protocol';
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

const grant = (user: TestUser, roomId: string) => t.call('POST', '/api/voice/grant', { token: user.token, json: { roomId } });
const ALL_VOICE = { speak: true, video: true, screen: true };

describe('voice grants follow channel permissions', () => {
  let server: CreatedServer;

  beforeAll(async () => {
    server = await createServer(t, alice, [bob, carol]);
  });

  test('a member gets a grant for the voice channel carrying SPEAK / VIDEO / STREAM', async () => {
    const reply = VoiceGrantResponse.parse(expectStatus(await grant(bob, server.voiceChannelId), 200));
    expect(reply.permissions).toEqual(ALL_VOICE);
    expect(VoiceGrantClaims.parse(decodeJwt(reply.grant))).toMatchObject({ sub: bob.id, room: server.voiceChannelId, perms: ALL_VOICE });
  });

  test('not a voice channel 400; unknown, foreign and free-form rooms 404; not a member 404', async () => {
    expectError(await grant(bob, server.textChannelId), 400, 'BAD_REQUEST');
    expectError(await grant(bob, '0190a5f0-0000-7000-8000-000000000000'), 404, 'NOT_FOUND');
    expectError(await grant(bob, 'lobby'), 404, 'NOT_FOUND');
    const foreign = await createServer(t, carol);
    expectError(await grant(bob, foreign.voiceChannelId), 404, 'NOT_FOUND');
    const stranger = await t.signUp('stranger');
    expectError(await grant(stranger, server.voiceChannelId), 404, 'NOT_FOUND');
  });

  test('without CONNECT (or VIEW_CHANNEL) no grant: 403', async () => {
    const room = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'stage', kind: 'voice' } }), 201);
    expectStatus(await t.call('PUT', `/api/channels/${room.id}/overwrites/member/${bob.id}`, { token: alice.token, json: { allow: 0, deny: Permission.CONNECT } }), 200);
    expectError(await grant(bob, room.id), 403, 'FORBIDDEN');
    expectStatus(await t.call('PUT', `/api/channels/${room.id}/overwrites/member/${carol.id}`, { token: alice.token, json: { allow: 0, deny: Permission.VIEW_CHANNEL } }), 200);
    expectError(await grant(carol, room.id), 403, 'FORBIDDEN');
    expectStatus(await grant(alice, room.id), 200);
  });

  test('without SPEAK the grant forbids speaking (and so on for VIDEO and STREAM)', async () => {
    const room = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'quiet', kind: 'voice' } }), 201);
    expectStatus(await t.call('PUT', `/api/channels/${room.id}/overwrites/role/${server.everyoneRoleId}`, { token: alice.token, json: { allow: 0, deny: Permission.SPEAK } }), 200);
    const reply = VoiceGrantResponse.parse(expectStatus(await grant(bob, room.id), 200));
    expect(reply.permissions).toEqual({ speak: false, video: true, screen: true });
    expect(VoiceGrantClaims.parse(decodeJwt(reply.grant)).perms).toEqual({ speak: false, video: true, screen: true });
    // A role that allows it back, for carol only.
    const speakers = await createRole(t, server, alice, 0, [carol], 'speakers');
    expectStatus(await t.call('PUT', `/api/channels/${room.id}/overwrites/role/${speakers}`, { token: alice.token, json: { allow: Permission.SPEAK | Permission.STREAM, deny: Permission.VIDEO } }), 200);
    expect(expectStatus(await grant(carol, room.id), 200).permissions).toEqual({ speak: true, video: false, screen: true });
    expect(expectStatus(await grant(bob, room.id), 200).permissions).toEqual({ speak: false, video: true, screen: true });
  });
});

describe('live sessions follow permission changes (setVoicePermissions)', () => {
  const sorted = (calls: GuildTestApi['publisher']['voice']) => [...calls].sort((a, b) => `${a.roomId}${a.userId}`.localeCompare(`${b.roomId}${b.userId}`));

  test('a role permission edit reaches the members whose voice permissions change, in every voice channel', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    const second = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'Two', kind: 'voice' } }), 201);
    t.publisher.clear();
    expectStatus(
      await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS & ~Permission.VIDEO } }),
      200,
    );
    const noVideo = { speak: true, video: false, screen: true };
    // The owner keeps everything: no update for alice.
    expect(sorted(t.publisher.voice)).toEqual(
      sorted([
        { userId: bob.id, roomId: server.voiceChannelId, permissions: noVideo },
        { userId: carol.id, roomId: server.voiceChannelId, permissions: noVideo },
        { userId: bob.id, roomId: second.id, permissions: noVideo },
        { userId: carol.id, roomId: second.id, permissions: noVideo },
      ]),
    );
    // A change that touches no voice permission sends nothing.
    t.publisher.clear();
    expectStatus(
      await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS & ~Permission.VIDEO & ~Permission.ADD_REACTIONS } }),
      200,
    );
    expect(t.publisher.voice).toEqual([]);
  });

  test('a member role change reaches that member only', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    expectStatus(await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS & ~Permission.STREAM } }), 200);
    const streamers = await createRole(t, server, alice, Permission.STREAM, [], 'streamers');
    t.publisher.clear();
    expectStatus(await t.call('PUT', `/api/servers/${server.id}/members/${bob.id}/roles/${streamers}`, { token: alice.token }), 204);
    expect(t.publisher.voice).toEqual([{ userId: bob.id, roomId: server.voiceChannelId, permissions: ALL_VOICE }]);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/roles/${streamers}`, { token: alice.token }), 204);
    expect(t.publisher.voice).toEqual([{ userId: bob.id, roomId: server.voiceChannelId, permissions: { speak: true, video: true, screen: false } }]);
  });

  test('an overwrite change reaches the members it concerns in that channel', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    t.publisher.clear();
    expectStatus(await t.call('PUT', `/api/channels/${server.voiceChannelId}/overwrites/member/${bob.id}`, { token: alice.token, json: { allow: 0, deny: Permission.SPEAK } }), 200);
    expect(t.publisher.voice).toEqual([{ userId: bob.id, roomId: server.voiceChannelId, permissions: { speak: false, video: true, screen: true } }]);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/channels/${server.voiceChannelId}/overwrites/member/${bob.id}`, { token: alice.token }), 204);
    expect(t.publisher.voice).toEqual([{ userId: bob.id, roomId: server.voiceChannelId, permissions: ALL_VOICE }]);
    expect(t.publisher.removals).toEqual([]);
  });
});

describe('whoever may no longer be in a voice channel is removed from its call (removeFromVoice)', () => {
  const GRANT_TTL_MS = 60_000;

  /** The one removal recorded, checked for a removal time within the request and a memory as long as grants live (and a margin). */
  function onlyRemoval(startedAt: number) {
    expect(t.publisher.removals).toHaveLength(1);
    const [removal] = t.publisher.removals;
    expect(removal!.at).toBeGreaterThanOrEqual(startedAt);
    expect(removal!.at).toBeLessThanOrEqual(Date.now());
    expect(removal!.until - removal!.at).toBeGreaterThanOrEqual(GRANT_TTL_MS);
    return removal!;
  }

  async function kickRemoves(path: string, method: 'DELETE' | 'PUT', reason: 'kicked' | 'banned') {
    const server = await createServer(t, alice, [bob, carol]);
    const second = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'Two', kind: 'voice' } }), 201);
    // A grant checked before the removal carries an earlier time: that is what voids it at join.
    const before = VoiceGrantClaims.parse(decodeJwt(expectStatus(await grant(carol, server.voiceChannelId), 200).grant));
    t.publisher.clear();
    const startedAt = Date.now();
    expectStatus(await t.call(method, path.replace(':server', server.id).replace(':user', carol.id), { token: alice.token, ...(method === 'PUT' && { json: {} }) }), 204);
    expect([...t.publisher.removals].sort((a, b) => a.roomId.localeCompare(b.roomId))).toEqual(
      [server.voiceChannelId, second.id].sort().map((roomId) => ({ roomId, userIds: [carol.id], reason, at: expect.any(Number), until: expect.any(Number) })),
    );
    for (const removal of t.publisher.removals) expect(removal.at).toBeGreaterThanOrEqual(Math.max(startedAt, before.checkedAt));
    // No permission update besides: removed is removed.
    expect(t.publisher.voice).toEqual([]);
  }

  test('a kick removes the member from every voice channel of the server', () => kickRemoves('/api/servers/:server/members/:user', 'DELETE', 'kicked'));

  test('a ban removes the member from every voice channel of the server', () => kickRemoves('/api/servers/:server/bans/:user', 'PUT', 'banned'));

  test('a member who leaves the server leaves its calls', async () => {
    const server = await createServer(t, alice, [bob]);
    t.publisher.clear();
    const startedAt = Date.now();
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}/members/@me`, { token: bob.token }), 204);
    expect(onlyRemoval(startedAt)).toMatchObject({ roomId: server.voiceChannelId, userIds: [bob.id], reason: 'left-server' });
  });

  test('losing CONNECT through an overwrite removes the member; the others stay', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    t.publisher.clear();
    const startedAt = Date.now();
    expectStatus(await t.call('PUT', `/api/channels/${server.voiceChannelId}/overwrites/member/${bob.id}`, { token: alice.token, json: { allow: 0, deny: Permission.CONNECT } }), 200);
    expect(onlyRemoval(startedAt)).toEqual({ roomId: server.voiceChannelId, userIds: [bob.id], reason: 'access-revoked', at: expect.any(Number), until: expect.any(Number) });
    expect(t.publisher.voice).toEqual([]);
  });

  test('losing VIEW_CHANNEL through a role edit removes every member it concerns', async () => {
    const server = await createServer(t, alice, [bob, carol]);
    t.publisher.clear();
    const startedAt = Date.now();
    expectStatus(
      await t.call('PATCH', `/api/servers/${server.id}/roles/${server.everyoneRoleId}`, { token: alice.token, json: { permissions: DEFAULT_EVERYONE_PERMISSIONS & ~Permission.VIEW_CHANNEL } }),
      200,
    );
    // The owner keeps everything.
    const removal = onlyRemoval(startedAt);
    expect({ ...removal, userIds: [...(removal.userIds ?? [])].sort() }).toMatchObject({ roomId: server.voiceChannelId, userIds: [bob.id, carol.id].sort(), reason: 'access-revoked' });
  });

  test('deleting a voice channel ends its call for everyone; deleting a text channel removes no one', async () => {
    const server = await createServer(t, alice, [bob]);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/channels/${server.textChannelId}`, { token: alice.token }), 204);
    expect(t.publisher.removals).toEqual([]);
    const startedAt = Date.now();
    expectStatus(await t.call('DELETE', `/api/channels/${server.voiceChannelId}`, { token: alice.token }), 204);
    // No user list: everyone, whoever holds a grant for the room.
    expect(onlyRemoval(startedAt)).toEqual({ roomId: server.voiceChannelId, reason: 'channel-deleted', at: expect.any(Number), until: expect.any(Number) });
  });

  test('deleting a server ends the calls of all its voice channels', async () => {
    const server = await createServer(t, alice, [bob]);
    const second = expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: alice.token, json: { name: 'Two', kind: 'voice' } }), 201);
    t.publisher.clear();
    expectStatus(await t.call('DELETE', `/api/servers/${server.id}`, { token: alice.token }), 204);
    expect(t.publisher.removals.map(({ roomId, userIds, reason }) => ({ roomId, userIds, reason })).sort((a, b) => a.roomId.localeCompare(b.roomId))).toEqual(
      [server.voiceChannelId, second.id].sort().map((roomId) => ({ roomId, userIds: undefined, reason: 'server-deleted' })),
    );
  });

  test('a grant carries when its permissions were checked', async () => {
    const server = await createServer(t, alice, [bob]);
    const startedAt = Date.now();
    const claims = VoiceGrantClaims.parse(decodeJwt(expectStatus(await grant(bob, server.voiceChannelId), 200).grant));
    expect(claims.checkedAt).toBeGreaterThanOrEqual(startedAt);
    expect(claims.checkedAt).toBeLessThanOrEqual(Date.now());
  });
});
