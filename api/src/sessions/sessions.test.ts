import { decodeJwt } from 'jose';
import { SessionList, SessionResponse, SignOutEverywhereResponse } from '@concord/protocol';
import { RedisRevokedSessions } from '@concord/registry';
import { expectError, expectStatus, startGuildApi, type GuildTestApi } from '@concord/testkit/src/api';
import { REDIS_URL } from '@concord/testkit/src/redis';

/**
 * Server-side sessions through the real API on PostgreSQL, with its cache in Redis (a cluster)
 * or in the process (the embedded default): a token works until its session is revoked and is
 * refused right after, on every API instance.
 */

const PASSWORD = 'correct horse battery';
const sidOf = (token: string) => String(decodeJwt(token).sid);

const started: GuildTestApi[] = [];
async function start(options: Parameters<typeof startGuildApi>[0] = {}): Promise<GuildTestApi> {
  const api = await startGuildApi(options);
  started.push(api);
  return api;
}
afterAll(async () => {
  // Second instances share the first one's database: they close first.
  for (const api of started.reverse()) await api.close();
});

async function signIn(t: GuildTestApi, username: string, password = PASSWORD, userAgent = 'Test browser'): Promise<SessionResponse> {
  const reply = await t.call('POST', '/api/auth/local/signin', { json: { username, password }, headers: { 'user-agent': userAgent } });
  return SessionResponse.parse(expectStatus(reply, 200));
}

const me = (t: GuildTestApi, token: string) => t.call('GET', '/api/me', { token });

describe.each([
  ['cache in Redis', true],
  ['cache in this process', false],
])('sign-out (%s)', (_mode, redis) => {
  test('a token works until its session signs out, and is refused (401) right after; other sessions keep working', async () => {
    const t = await start({ redis });
    const ada = await t.signUp('ada');
    const username = (expectStatus(await me(t, ada.token), 200) as { username: string }).username;
    const other = await signIn(t, username);
    // Both sessions in use: their live state is cached now.
    expectStatus(await me(t, ada.token), 200);
    expectStatus(await me(t, other.token), 200);

    expectStatus(await t.call('POST', '/api/auth/sign-out', { token: ada.token }), 204);
    expectError(await me(t, ada.token), 401, 'UNAUTHENTICATED');
    expectError(await t.call('POST', '/api/voice/grant', { token: ada.token, json: { roomId: 'lobby' } }), 401, 'UNAUTHENTICATED');
    expectError(await t.call('POST', '/api/auth/sign-out', { token: ada.token }), 401, 'UNAUTHENTICATED');
    expect((expectStatus(await me(t, other.token), 200) as { id: string }).id).toBe(ada.id);
    // Signaling is told, so that it closes the session's sockets.
    expect(t.publisher.revocations).toEqual([{ sessionIds: [sidOf(ada.token)], reason: 'signed-out' }]);
  });
});

describe('sessions across API instances (PostgreSQL + Redis)', () => {
  test('sign out everywhere on one instance: the other refuses the other sessions at once; signaling sees them revoked in Redis', async () => {
    const first = await start();
    const signingKey = first.api.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const second = await start({ database: first.database!, keyPrefix: first.keyPrefix, env: { API_PRIVATE_KEY_PEM: signingKey } });
    const bob = await first.signUp('bob');
    const username = (expectStatus(await me(first, bob.token), 200) as { username: string }).username;
    const laptop = await signIn(second, username, PASSWORD, 'Laptop browser');
    const phone = await signIn(first, username, PASSWORD, 'Phone browser');
    // Every session's state cached by both instances.
    for (const instance of [first, second]) for (const token of [bob.token, laptop.token, phone.token]) expectStatus(await me(instance, token), 200);

    const listed = SessionList.parse(expectStatus(await second.call('GET', '/api/auth/sessions', { token: laptop.token }), 200)).sessions;
    expect(listed.map((s) => [s.id, s.current, s.userAgent]).sort()).toEqual(
      [
        [sidOf(bob.token), false, 'node'],
        [sidOf(laptop.token), true, 'Laptop browser'],
        [sidOf(phone.token), false, 'Phone browser'],
      ].sort(),
    );

    const answer = SignOutEverywhereResponse.parse(expectStatus(await first.call('POST', '/api/auth/sign-out-everywhere', { token: phone.token }), 200));
    expect(answer).toEqual({ revoked: 2 });
    // No waiting: the other instance reads the same (invalidated) cache.
    expectError(await me(second, laptop.token), 401, 'UNAUTHENTICATED');
    expectError(await me(second, bob.token), 401, 'UNAUTHENTICATED');
    expectError(await me(first, laptop.token), 401, 'UNAUTHENTICATED');
    expectStatus(await me(second, phone.token), 200);
    expect(first.publisher.revocations).toEqual([{ sessionIds: expect.arrayContaining([sidOf(bob.token), sidOf(laptop.token)]), reason: 'signed-out-everywhere' }]);

    const revoked = new RedisRevokedSessions(REDIS_URL, { keyPrefix: first.keyPrefix });
    try {
      expect(await revoked.isRevoked(sidOf(laptop.token))).toBe(true);
      expect(await revoked.isRevoked(sidOf(bob.token))).toBe(true);
      expect(await revoked.isRevoked(sidOf(phone.token))).toBe(false);
    } finally {
      await revoked.close();
    }
    const left = SessionList.parse(expectStatus(await first.call('GET', '/api/auth/sessions', { token: phone.token }), 200)).sessions;
    expect(left.map((s) => s.id)).toEqual([sidOf(phone.token)]);
  });
});

describe('one session by id', () => {
  test("DELETE /api/auth/sessions/:id revokes one of mine; someone else's, unknown and malformed ids are refused", async () => {
    const t = await start();
    const carol = await t.signUp('carol');
    const dave = await t.signUp('dave');
    const username = (expectStatus(await me(t, carol.token), 200) as { username: string }).username;
    const second = await signIn(t, username);
    expectStatus(await me(t, second.token), 200);

    expectError(await t.call('DELETE', `/api/auth/sessions/${sidOf(dave.token)}`, { token: carol.token }), 404, 'NOT_FOUND');
    expectStatus(await me(t, dave.token), 200);
    expectError(await t.call('DELETE', '/api/auth/sessions/not-a-session', { token: carol.token }), 400, 'BAD_REQUEST');
    expectError(await t.call('DELETE', '/api/auth/sessions/0190a6b8-0000-7000-8000-000000000000', { token: carol.token }), 404, 'NOT_FOUND');

    expectStatus(await t.call('DELETE', `/api/auth/sessions/${sidOf(second.token)}`, { token: carol.token }), 204);
    expectError(await me(t, second.token), 401, 'UNAUTHENTICATED');
    expectStatus(await me(t, carol.token), 200);
    expectError(await t.call('DELETE', `/api/auth/sessions/${sidOf(second.token)}`, { token: carol.token }), 404, 'NOT_FOUND');
  });
});

describe('password change', () => {
  test('needs the current password; revokes every other session; the old password stops working, the new one works', async () => {
    const t = await start();
    const erin = await t.signUp('erin');
    const username = (expectStatus(await me(t, erin.token), 200) as { username: string }).username;
    const elsewhere = await signIn(t, username);
    const change = (json: unknown) => t.call('POST', '/api/auth/password', { token: erin.token, json });

    expectError(await change({ currentPassword: 'not my password', newPassword: 'a brand new password' }), 401, 'INVALID_CREDENTIALS');
    expectError(await change({ currentPassword: PASSWORD, newPassword: 'short' }), 400, 'BAD_REQUEST');
    expectError(await change({ currentPassword: PASSWORD }), 400, 'BAD_REQUEST');
    expectError(await change({ currentPassword: PASSWORD, newPassword: 'a brand new password', extra: 1 }), 400, 'BAD_REQUEST');
    // Nothing changed by the refusals.
    expectStatus(await me(t, elsewhere.token), 200);
    await signIn(t, username);

    expect(SignOutEverywhereResponse.parse(expectStatus(await change({ currentPassword: PASSWORD, newPassword: 'a brand new password' }), 200))).toEqual({ revoked: 2 });
    expectError(await me(t, elsewhere.token), 401, 'UNAUTHENTICATED');
    expectStatus(await me(t, erin.token), 200);
    expectError(await t.call('POST', '/api/auth/local/signin', { json: { username, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
    const fresh = await signIn(t, username, 'a brand new password');
    expectStatus(await me(t, fresh.token), 200);
    expect(t.publisher.revocations.at(-1)).toEqual({ sessionIds: expect.arrayContaining([sidOf(elsewhere.token)]), reason: 'password-changed' });
  });

  test('guesses of the current password are rate-limited', async () => {
    const t = await start({ env: { AUTH_RATE_LIMIT: '5' } });
    const frank = await t.signUp('frank');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await t.call('POST', '/api/auth/password', { token: frank.token, json: { currentPassword: `guess ${i}`, newPassword: 'a brand new password' } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });
});
