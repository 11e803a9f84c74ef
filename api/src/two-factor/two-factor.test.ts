import { Permission, RecoveryCodesResponse, SecondFactorChallenge, SessionResponse, TotpSetupResponse, TwoFactorStatus } from '@concord/protocol';
import { totpCode } from './totp';
import { createRole, createServer, expectError, expectStatus, startGuildApi, type GuildTestApi, type TestUser } from '@concord/testkit/src/api';

/**
 * Two-factor sign-in through the real API on PostgreSQL (and Redis for the cache and limits): the
 * codes are computed here from the secret the API showed at enrolment, as an authenticator app does.
 */

const PASSWORD = 'correct horse battery';
const STEP = 30;

let t: GuildTestApi;
beforeAll(async () => {
  t = await startGuildApi({ env: { TWO_FACTOR_FAILURE_LIMIT: '5/5m' } });
});
afterAll(async () => {
  await t.close();
});

/** Starts each scenario with at least 8 s left in the current 30 s step, so "this step" and "the next" stay what they were. */
async function awayFromStepEdge(): Promise<number> {
  const into = (Date.now() / 1000) % STEP;
  if (into > STEP - 8) await new Promise((resolve) => setTimeout(resolve, (STEP - into + 0.5) * 1000));
  return Math.floor(Date.now() / 1000 / STEP);
}

/** The authenticator app's code for time step `step` (totp.ts is checked against RFC 6238's vectors). */
const codeAt = async (secret: string, step: number) => totpCode(secret, step);

const usernameOf = async (user: TestUser) => (expectStatus(await t.call('GET', '/api/me', { token: user.token }), 200) as { username: string }).username;
const signIn = async (username: string, password = PASSWORD) => t.call('POST', '/api/auth/local/signin', { json: { username, password } });
const challengeOf = async (username: string) => SecondFactorChallenge.parse(expectStatus(await signIn(username), 200)).secondFactor.challenge;
const verify = (challenge: string, code: string) => t.call('POST', '/api/auth/2fa/verify', { json: { challenge, code } });

/** Enrols TOTP for the user, confirming with the code of `step - 1`; the secret and recovery codes. */
async function enrol(user: TestUser, step: number): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret, uri } = TotpSetupResponse.parse(expectStatus(await t.call('POST', '/api/auth/2fa/totp', { token: user.token }), 200));
  expect(uri).toMatch(new RegExp(`^otpauth://totp/Concord:.*secret=${secret}`));
  const { recoveryCodes } = RecoveryCodesResponse.parse(
    expectStatus(await t.call('POST', '/api/auth/2fa/totp/confirm', { token: user.token, json: { code: await codeAt(secret, step - 1) } }), 200),
  );
  return { secret, recoveryCodes };
}

test('enrolment: the secret is shown once, confirmed by a right code only, kept encrypted; then sign-in needs the second factor', async () => {
  const step = await awayFromStepEdge();
  const ada = await t.signUp('ada');
  const username = await usernameOf(ada);
  expect(TwoFactorStatus.parse(expectStatus(await t.call('GET', '/api/auth/2fa', { token: ada.token }), 200))).toEqual({ enabled: false, totp: false, passkeys: [], recoveryCodesLeft: 0 });

  const { secret } = TotpSetupResponse.parse(expectStatus(await t.call('POST', '/api/auth/2fa/totp', { token: ada.token }), 200));
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  const confirm = (code: string) => t.call('POST', '/api/auth/2fa/totp/confirm', { token: ada.token, json: { code } });
  const wrong = (await codeAt(secret, step)) === '000000' ? '111111' : '000000';
  expectError(await confirm(wrong), 401, 'INVALID_CREDENTIALS');
  expectError(await confirm('12345'), 400, 'BAD_REQUEST');
  // Not enrolled yet: signing in still gives a session.
  SessionResponse.parse(expectStatus(await signIn(username), 200));

  const { recoveryCodes } = RecoveryCodesResponse.parse(expectStatus(await confirm(await codeAt(secret, step)), 200));
  expect(recoveryCodes).toHaveLength(10);
  expect(new Set(recoveryCodes).size).toBe(10);
  const status = expectStatus(await t.call('GET', '/api/auth/2fa', { token: ada.token }), 200);
  expect(status).toEqual({ enabled: true, totp: true, passkeys: [], recoveryCodesLeft: 10 });
  expect(JSON.stringify(status)).not.toContain(secret);
  // Never shown again, not even by starting over.
  expectError(await t.call('POST', '/api/auth/2fa/totp', { token: ada.token }), 409, 'CONFLICT');
  // At rest: neither the secret nor a recovery code in the clear.
  const { rows } = await t.api.deps.db.query<{ secret_box: string }>('SELECT secret_box FROM user_totp WHERE user_id = $1', [ada.id]);
  expect(rows[0]!.secret_box).not.toContain(secret);
  const hashes = (await t.api.deps.db.query<{ code_hash: string }>('SELECT code_hash FROM user_recovery_codes WHERE user_id = $1', [ada.id])).rows.map((row) => row.code_hash);
  expect(hashes).toHaveLength(10);
  for (const code of recoveryCodes) expect(hashes.join(' ')).not.toContain(code.replace('-', ''));

  // The password alone now gives a challenge, which is no session.
  const reply = expectStatus(await signIn(username), 200);
  expect(reply).not.toHaveProperty('token');
  const { secondFactor } = SecondFactorChallenge.parse(reply);
  expect(secondFactor.methods).toEqual(['totp', 'recovery']);
  expectError(await t.call('GET', '/api/me', { token: secondFactor.challenge }), 401, 'UNAUTHENTICATED');
  // The session signed in before enrolment keeps working (enrolling signs nobody out).
  expectStatus(await t.call('GET', '/api/me', { token: ada.token }), 200);
});

test('sign-in with the code: a wrong code is refused, a right one gives a session, the same code again (replay) is refused', async () => {
  const step = await awayFromStepEdge();
  const bob = await t.signUp('bob');
  const username = await usernameOf(bob);
  const { secret } = await enrol(bob, step);

  const challenge = await challengeOf(username);
  const right = await codeAt(secret, step);
  expectError(await verify(challenge, right === '123456' ? '654321' : '123456'), 401, 'INVALID_CREDENTIALS');
  const session = SessionResponse.parse(expectStatus(await verify(challenge, right), 200));
  expect(session.user.id).toBe(bob.id);
  expectStatus(await t.call('GET', '/api/me', { token: session.token }), 200);

  // The same code in the same window, from a fresh sign-in: refused.
  expectError(await verify(await challengeOf(username), right), 401, 'INVALID_CREDENTIALS');
  // An older code than the last used one too.
  expectError(await verify(await challengeOf(username), await codeAt(secret, step - 1)), 401, 'INVALID_CREDENTIALS');
  // The next window's code is new: accepted (one step of clock drift allowed), once.
  const next = await codeAt(secret, step + 1);
  SessionResponse.parse(expectStatus(await verify(await challengeOf(username), next), 200));
  expectError(await verify(await challengeOf(username), next), 401, 'INVALID_CREDENTIALS');
  // Codes two steps away are outside the window.
  const bobAgain = await t.signUp('bobby');
  const other = await enrol(bobAgain, step);
  expectError(await verify(await challengeOf(await usernameOf(bobAgain)), await codeAt(other.secret, step + 3)), 401, 'INVALID_CREDENTIALS');
});

test('brute force: after 5 wrong codes every code is refused (429), the right one too, and the challenge is useless without a code', async () => {
  const step = await awayFromStepEdge();
  const carol = await t.signUp('carol');
  const username = await usernameOf(carol);
  const { secret } = await enrol(carol, step);
  const right = await codeAt(secret, step);
  const wrongCodes = ['000000', '111111', '222222', '333333', '444444', '555555'].filter((code) => code !== right);

  const challenge = await challengeOf(username);
  const statuses: number[] = [];
  for (const code of wrongCodes.slice(0, 5)) statuses.push((await verify(challenge, code)).status);
  expect(statuses).toEqual([401, 401, 401, 401, 401]);
  const limited = await verify(challenge, right);
  expectError(limited, 429, 'RATE_LIMITED');
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  // A fresh challenge does not reset the count, nor does a recovery code get through.
  expectError(await verify(await challengeOf(username), right), 429, 'RATE_LIMITED');
});

test('recovery codes: each signs in once, in place of a code', async () => {
  const step = await awayFromStepEdge();
  const dave = await t.signUp('dave');
  const username = await usernameOf(dave);
  const { recoveryCodes } = await enrol(dave, step);

  const [first, second] = recoveryCodes;
  SessionResponse.parse(expectStatus(await verify(await challengeOf(username), first!), 200));
  expectError(await verify(await challengeOf(username), first!), 401, 'INVALID_CREDENTIALS');
  // Typed in capitals and without the dash, as people do.
  SessionResponse.parse(expectStatus(await verify(await challengeOf(username), second!.toUpperCase().replace('-', '')), 200));
  expect(TwoFactorStatus.parse(expectStatus(await t.call('GET', '/api/auth/2fa', { token: dave.token }), 200)).recoveryCodesLeft).toBe(8);
  // Another account's code is nothing here.
  const erin = await t.signUp('erin');
  const erinCodes = (await enrol(erin, step)).recoveryCodes;
  expectError(await verify(await challengeOf(username), erinCodes[0]!), 401, 'INVALID_CREDENTIALS');
});

test('turning two-factor sign-in off needs a fresh second factor; afterwards the password alone signs in again', async () => {
  const step = await awayFromStepEdge();
  const frank = await t.signUp('frank');
  const username = await usernameOf(frank);
  const { secret } = await enrol(frank, step);
  const disable = (json: unknown) => t.call('POST', '/api/auth/2fa/disable', { token: frank.token, json });

  expectError(await disable({}), 400, 'BAD_REQUEST');
  expectError(await disable({ code: PASSWORD }), 400, 'BAD_REQUEST');
  expectError(await disable({ code: '000000', extra: 1 }), 400, 'BAD_REQUEST');
  // The code that confirmed the enrolment is used up.
  expectError(await disable({ code: await codeAt(secret, step - 1) }), 401, 'INVALID_CREDENTIALS');
  expect(TwoFactorStatus.parse(expectStatus(await t.call('GET', '/api/auth/2fa', { token: frank.token }), 200)).enabled).toBe(true);

  expectStatus(await disable({ code: await codeAt(secret, step) }), 204);
  expect(expectStatus(await t.call('GET', '/api/auth/2fa', { token: frank.token }), 200)).toEqual({ enabled: false, totp: false, passkeys: [], recoveryCodesLeft: 0 });
  SessionResponse.parse(expectStatus(await signIn(username), 200));
  // Turning it off again needs a second factor there is none of.
  expectError(await disable({ code: await codeAt(secret, step + 1) }), 401, 'INVALID_CREDENTIALS');
});

test('new recovery codes need a fresh factor and void the old ones', async () => {
  const step = await awayFromStepEdge();
  const gina = await t.signUp('gina');
  const username = await usernameOf(gina);
  const { secret, recoveryCodes: old } = await enrol(gina, step);
  expectError(await t.call('POST', '/api/auth/2fa/recovery-codes', { token: gina.token, json: { code: '000000' === (await codeAt(secret, step)) ? '111111' : '000000' } }), 401, 'INVALID_CREDENTIALS');
  const { recoveryCodes } = RecoveryCodesResponse.parse(
    expectStatus(await t.call('POST', '/api/auth/2fa/recovery-codes', { token: gina.token, json: { code: old[0] } }), 200),
  );
  expect(recoveryCodes).toHaveLength(10);
  expectError(await verify(await challengeOf(username), old[1]!), 401, 'INVALID_CREDENTIALS');
  SessionResponse.parse(expectStatus(await verify(await challengeOf(username), recoveryCodes[0]!), 200));
});

test('"moderators must have 2FA": moderator permissions act only with two-factor sign-in, refused with TWO_FACTOR_REQUIRED', async () => {
  const step = await awayFromStepEdge();
  const owner = await t.signUp('owner');
  const mod = await t.signUp('mod');
  const member = await t.signUp('member');
  const server = await createServer(t, owner, [mod, member]);
  await createRole(t, server, owner, Permission.KICK_MEMBERS | Permission.MANAGE_CHANNELS | Permission.MANAGE_MESSAGES | Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES, [mod], 'moderators');
  const rule = (user: TestUser, required: boolean) => t.call('PUT', `/api/servers/${server.id}/two-factor-requirement`, { token: user.token, json: { required } });

  // Only the owner sets it, and only with two-factor sign-in of their own.
  expectError(await rule(owner, true), 403, 'TWO_FACTOR_REQUIRED');
  expectError(await rule(mod, true), 403, 'FORBIDDEN');
  expectError(await t.call('PUT', `/api/servers/${server.id}/two-factor-requirement`, { token: owner.token, json: { required: 'yes' } }), 400, 'BAD_REQUEST');
  await enrol(owner, step);
  expect(expectStatus(await rule(owner, true), 200)).toEqual({ required: true });
  expect(expectStatus(await t.call('GET', `/api/servers/${server.id}`, { token: mod.token }), 200)).toMatchObject({ moderatorsNeedTwoFactor: true });

  // The moderator without 2FA: moderator actions refused with a clear error; everything else as before.
  const refused = expectError(await t.call('DELETE', `/api/servers/${server.id}/members/${member.id}`, { token: mod.token }), 403, 'TWO_FACTOR_REQUIRED');
  expect(refused.message).toMatch(/two-factor sign-in.*KICK_MEMBERS/);
  expectError(await t.call('POST', `/api/servers/${server.id}/channels`, { token: mod.token, json: { name: 'mods', kind: 'text' } }), 403, 'TWO_FACTOR_REQUIRED');
  expectStatus(await t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: mod.token, json: { content: 'hello' } }), 201);
  const spam = expectStatus(await t.call('POST', `/api/channels/${server.textChannelId}/messages`, { token: member.token, json: { content: 'spam' } }), 201) as { id: string };
  const deleteSpam = (user: TestUser) => t.call('DELETE', `/api/channels/${server.textChannelId}/messages/${spam.id}`, { token: user.token });
  expectError(await deleteSpam(mod), 403, 'TWO_FACTOR_REQUIRED');
  // A member without the permission still gets the plain FORBIDDEN.
  expectError(await t.call('DELETE', `/api/servers/${server.id}/members/${mod.id}`, { token: member.token }), 403, 'FORBIDDEN');
  // The owner (with 2FA) acts.
  expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: owner.token, json: { name: 'owners', kind: 'text' } }), 201);

  // The moderator turns on 2FA: the same kick works at once.
  await enrol(mod, step);
  expectStatus(await deleteSpam(mod), 204);
  expectStatus(await t.call('DELETE', `/api/servers/${server.id}/members/${member.id}`, { token: mod.token }), 204);
  // The rule off again: a moderator without 2FA acts.
  const mod2 = await t.signUp('mod2');
  const invite = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: owner.token, json: {} }), 201) as { code: string };
  expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: mod2.token }), 200);
  await createRole(t, server, owner, Permission.MANAGE_CHANNELS, [mod2], 'channel keepers');
  expectError(await t.call('POST', `/api/servers/${server.id}/channels`, { token: mod2.token, json: { name: 'x', kind: 'text' } }), 403, 'TWO_FACTOR_REQUIRED');
  expectStatus(await rule(owner, false), 200);
  expectStatus(await t.call('POST', `/api/servers/${server.id}/channels`, { token: mod2.token, json: { name: 'x', kind: 'text' } }), 201);
});

test('bad input on every two-factor route: 4xx, never 5xx', async () => {
  const step = await awayFromStepEdge();
  const hank = await t.signUp('hank');
  const username = await usernameOf(hank);
  await enrol(hank, step);
  const challenge = await challengeOf(username);
  const junkPasskey = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' } };
  const cases: [string, string, unknown, string | undefined][] = [
    ['POST', '/api/auth/2fa/verify', { challenge, code: '12' }, undefined],
    ['POST', '/api/auth/2fa/verify', { challenge: 'not a token', code: '123456' }, undefined],
    ['POST', '/api/auth/2fa/verify', { challenge: hank.token, code: '123456' }, undefined],
    ['POST', '/api/auth/2fa/verify', { challenge: 'x'.repeat(5000), code: '123456' }, undefined],
    ['POST', '/api/auth/2fa/verify', [], undefined],
    ['POST', '/api/auth/2fa/verify', { challenge: 1, code: 123456 }, undefined],
    ['POST', '/api/auth/2fa/passkey-options', { challenge }, undefined],
    ['POST', '/api/auth/2fa/passkey-options', { challenge: 'nope' }, undefined],
    ['POST', '/api/auth/2fa/verify-passkey', { challenge, passkey: junkPasskey }, undefined],
    ['POST', '/api/auth/2fa/verify-passkey', { challenge, passkey: { ...junkPasskey, response: { clientDataJSON: Buffer.from('{"challenge":"a","origin":"http://localhost"}').toString('base64url'), authenticatorData: '', signature: '' } } }, undefined],
    ['POST', '/api/auth/2fa/verify-passkey', { challenge, passkey: { id: '!!' } }, undefined],
    ['POST', '/api/auth/2fa/passkeys', { name: 'key', passkey: { ...junkPasskey, response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' } } }, hank.token],
    ['POST', '/api/auth/2fa/passkeys', { name: '', passkey: {} }, hank.token],
    ['POST', '/api/auth/2fa/passkeys', { name: 'a\u0000b', passkey: junkPasskey }, hank.token],
    ['POST', '/api/auth/2fa/assertion-options', undefined, hank.token],
    ['POST', '/api/auth/2fa/disable', { passkey: junkPasskey }, hank.token],
    ['POST', '/api/auth/2fa/disable', { code: '123456', passkey: junkPasskey }, hank.token],
    ['POST', '/api/auth/2fa/totp/confirm', { code: '123456' }, hank.token],
    ['PUT', `/api/servers/not-a-server/two-factor-requirement`, { required: true }, hank.token],
    ['GET', '/api/auth/2fa', undefined, undefined],
  ];
  for (const [method, route, json, token] of cases) {
    const reply = await t.call(method, route, { ...(json !== undefined && { json }), ...(token && { token }) });
    expect({ route, json, status: reply.status }).toEqual({ route, json, status: expect.any(Number) });
    expect([route, reply.status >= 400 && reply.status < 500]).toEqual([route, true]);
  }
  // Those attempts cost hank's budget of wrong codes, not the server's health.
  expectStatus(await t.call('GET', '/api/health'), 200);
});
