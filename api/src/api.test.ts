import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT, generateKeyPair } from 'jose';
import pino from 'pino';
import {
  GRANT_AUDIENCE,
  HttpErrorBody,
  PublicUser,
  SESSION_AUDIENCE,
  SessionResponse,
  TOKEN_ISSUER,
  VoiceGrantClaims,
  VoiceGrantResponse,
} from '@concord/protocol';
import { loadConfig, type ApiConfig } from './config';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { signToken, SIGNING_KEY_FILE } from './keys';
import { startApi, type RunningApi } from './server';

const silent = pino({ level: 'silent' });
const dataDirs: string[] = [];
const running: RunningApi[] = [];
/** Each data dir comes with a database of its own (users live in PostgreSQL). */
const databases = new Map<string, TestDatabase>();

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'concord-api-'));
  dataDirs.push(dir);
  databases.set(dir, await createTestDatabase());
  return dir;
}

async function start(dataDir: string, env: Record<string, string> = {}): Promise<RunningApi> {
  const DATABASE_URL = databases.get(dataDir)!.url;
  const config: ApiConfig = loadConfig({ CONCORD_DATA_DIR: dataDir, DATABASE_URL, API_HOST: '127.0.0.1', API_PORT: '0', AUTH_RATE_LIMIT: '1000', ...env });
  const api = await startApi(config, silent);
  running.push(api);
  return api;
}

afterAll(async () => {
  await Promise.all(running.map((api) => api.close()));
  await Promise.all([...databases.values()].map((db) => db.drop()));
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(api: RunningApi, method: string, route: string, options: { json?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.raw ?? JSON.stringify(options.json);
  }
  const response = await fetch(`${api.url}${route}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Asserts the one error shape and returns it. */
function expectError(reply: Reply, status: number, code: string): HttpErrorBody['error'] {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { error: { code } } });
  return HttpErrorBody.parse(reply.body).error;
}
type HttpErrorBody = ReturnType<typeof HttpErrorBody.parse>;

const signUp = (api: RunningApi, username: string, password = 'correct horse battery', displayName?: string) =>
  call(api, 'POST', '/api/auth/local/signup', { json: { username, password, ...(displayName && { displayName }) } });
const signIn = (api: RunningApi, username: string, password: string, headers?: Record<string, string>) =>
  call(api, 'POST', '/api/auth/local/signin', { json: { username, password }, ...(headers && { headers }) });

/** Voice rooms are voice channels: a new server of the user's comes with one. */
async function voiceChannel(api: RunningApi, token: string): Promise<string> {
  const server = (await call(api, 'POST', '/api/servers', { token, json: { name: 'voice test' } })).body as { id: string };
  const channels = (await call(api, 'GET', `/api/servers/${server.id}/channels`, { token })).body as { id: string; kind: string }[];
  return channels.find((channel) => channel.kind === 'voice')!.id;
}

describe('API', () => {
  let api: RunningApi;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await newDataDir();
    api = await start(dataDir);
  });

  test('health', async () => {
    expect(await call(api, 'GET', '/api/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  test('sign up, sign in, /me', async () => {
    const up = await signUp(api, 'alice', 'correct horse battery', 'Alice A.');
    expect(up.status).toBe(201);
    const session = SessionResponse.parse(up.body);
    expect(session.user).toEqual({ id: expect.any(String), username: 'alice', displayName: 'Alice A.' });
    expect(session.expiresAt).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 60_000);
    expect(session.expiresAt).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);

    const me = await call(api, 'GET', '/api/me', { token: session.token });
    expect(me.status).toBe(200);
    expect(PublicUser.parse(me.body)).toEqual(session.user);

    const inReply = await signIn(api, 'alice', 'correct horse battery');
    expect(inReply.status).toBe(200);
    const second = SessionResponse.parse(inReply.body);
    expect(second.user).toEqual(session.user);
    expect((await call(api, 'GET', '/api/me', { token: second.token })).body).toEqual(session.user);

    // The signing key is private to the API.
    expect((await stat(path.join(dataDir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
  });

  test('display name defaults to the user name', async () => {
    const session = SessionResponse.parse((await signUp(api, 'dora')).body);
    expect(session.user.displayName).toBe('dora');
  });

  test('a taken user name is 409, whatever its case', async () => {
    expect((await signUp(api, 'carol')).status).toBe(201);
    expectError(await signUp(api, 'carol'), 409, 'CONFLICT');
    expectError(await signUp(api, 'CAROL'), 409, 'CONFLICT');
  });

  test('wrong password and unknown user are the same 401', async () => {
    expect((await signUp(api, 'bob', 'bobs password')).status).toBe(201);
    const wrong = expectError(await signIn(api, 'bob', 'not bobs password'), 401, 'INVALID_CREDENTIALS');
    const unknown = expectError(await signIn(api, 'nobody', 'whatever password'), 401, 'INVALID_CREDENTIALS');
    expect(unknown.message).toBe(wrong.message);
  });

  test('malformed JSON is 400', async () => {
    expectError(await call(api, 'POST', '/api/auth/local/signin', { raw: '{"username": "bob",' }), 400, 'BAD_REQUEST');
  });

  test('schema violations are 400 naming the field', async () => {
    const shortName = expectError(await signUp(api, 'x'), 400, 'BAD_REQUEST');
    expect(shortName.message).toMatch(/username/);
    const noPassword = expectError(await call(api, 'POST', '/api/auth/local/signup', { json: { username: 'erin' } }), 400, 'BAD_REQUEST');
    expect(noPassword.message).toMatch(/password/);
    const extra = expectError(await call(api, 'POST', '/api/auth/local/signin', { json: { username: 'erin', password: 'p', admin: true } }), 400, 'BAD_REQUEST');
    expect(extra.message).toMatch(/admin/);
    // No JSON content type: there is no body object at all.
    const notJson = await fetch(`${api.url}/api/auth/local/signin`, { method: 'POST', body: 'username=erin' });
    expectError({ status: notJson.status, headers: notJson.headers, body: await notJson.json() }, 400, 'BAD_REQUEST');
  });

  test('a body over 16 KiB is 413', async () => {
    expectError(await signUp(api, 'frank', 'x'.repeat(17 * 1024)), 413, 'PAYLOAD_TOO_LARGE');
    // Just under the limit is parsed (and then fails the schema, not the size check).
    expectError(await signUp(api, 'frank', 'x'.repeat(15 * 1024)), 400, 'BAD_REQUEST');
  });

  test('missing, garbage, forged, expired and wrong-audience tokens are 401', async () => {
    const session = SessionResponse.parse((await signUp(api, 'grace')).body);
    // A real session's claims: only the expiry, the signature or the audience is wrong below.
    const claims = { sub: session.user.id, name: session.user.displayName, sid: decodeJwt(session.token).sid };

    expectError(await call(api, 'GET', '/api/me'), 401, 'UNAUTHENTICATED');
    expectError(await call(api, 'GET', '/api/me', { headers: { authorization: session.token } }), 401, 'UNAUTHENTICATED');
    expectError(await call(api, 'GET', '/api/me', { token: 'garbage' }), 401, 'UNAUTHENTICATED');
    expectError(await call(api, 'GET', '/api/me', { token: `${session.token}x` }), 401, 'UNAUTHENTICATED');

    const expired = await signToken(api.keys, SESSION_AUDIENCE, claims, -60);
    expectError(await call(api, 'GET', '/api/me', { token: expired.token }), 401, 'UNAUTHENTICATED');

    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: api.keys.kid })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(SESSION_AUDIENCE)
      .setExpirationTime('1h')
      .sign(otherKey);
    expectError(await call(api, 'GET', '/api/me', { token: forged }), 401, 'UNAUTHENTICATED');

    const roomId = await voiceChannel(api, session.token);
    const grant = VoiceGrantResponse.parse((await call(api, 'POST', '/api/voice/grant', { token: session.token, json: { roomId } })).body);
    expectError(await call(api, 'GET', '/api/me', { token: grant.grant }), 401, 'UNAUTHENTICATED');
    expectError(await call(api, 'POST', '/api/voice/grant', { token: grant.grant, json: { roomId } }), 401, 'UNAUTHENTICATED');

    // The real session still works, so the rejections above are about the tokens.
    expect((await call(api, 'GET', '/api/me', { token: session.token })).status).toBe(200);
  });

  test('a voice grant verifies with the published JWKS and carries the room and permissions', async () => {
    const session = SessionResponse.parse((await signUp(api, 'heidi', 'correct horse battery', 'Heidi')).body);
    const roomId = await voiceChannel(api, session.token);
    const reply = await call(api, 'POST', '/api/voice/grant', { token: session.token, json: { roomId } });
    expect(reply.status).toBe(200);
    const grant = VoiceGrantResponse.parse(reply.body);
    expect(grant.permissions).toEqual({ speak: true, video: true, screen: true });
    expect(Math.abs(grant.expiresAt - (Date.now() + 60_000))).toBeLessThan(5_000);

    const jwks = await call(api, 'GET', '/api/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/); // public half only
    const { payload, protectedHeader } = await jwtVerify(grant.grant, createLocalJWKSet(jwks.body as never), {
      issuer: TOKEN_ISSUER,
      audience: GRANT_AUDIENCE,
      algorithms: ['ES256'],
    });
    expect(protectedHeader.kid).toBe(api.keys.kid);
    expect(VoiceGrantClaims.parse(payload)).toEqual({
      sub: session.user.id,
      name: 'Heidi',
      room: roomId,
      perms: { speak: true, video: true, screen: true },
      sid: decodeJwt(session.token).sid,
      checkedAt: expect.any(Number),
    });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.exp! * 1000).toBe(grant.expiresAt);

    // A session is not a grant.
    await expect(jwtVerify(session.token, createLocalJWKSet(jwks.body as never), { issuer: TOKEN_ISSUER, audience: GRANT_AUDIENCE })).rejects.toThrow();
  });

  test('a grant for an invalid room id is 400; without a session 401', async () => {
    const session = SessionResponse.parse((await signUp(api, 'ivan')).body);
    const bad = expectError(await call(api, 'POST', '/api/voice/grant', { token: session.token, json: { roomId: 'no spaces/allowed' } }), 400, 'BAD_REQUEST');
    expect(bad.message).toMatch(/roomId/);
    expectError(await call(api, 'POST', '/api/voice/grant', { token: session.token, json: {} }), 400, 'BAD_REQUEST');
    expectError(await call(api, 'POST', '/api/voice/grant', { json: { roomId: 'lobby' } }), 401, 'UNAUTHENTICATED');
    // Rooms are voice channels now: a free-form room name names none.
    expectError(await call(api, 'POST', '/api/voice/grant', { token: session.token, json: { roomId: 'lobby' } }), 404, 'NOT_FOUND');
  });

  test('unknown routes are 404 JSON', async () => {
    const reply = await call(api, 'GET', '/api/nothing-here');
    expectError(reply, 404, 'NOT_FOUND');
    expect(reply.headers.get('content-type')).toMatch(/application\/json/);
    expectError(await call(api, 'GET', '/api/auth/local/signin'), 404, 'NOT_FOUND');
    expectError(await call(api, 'DELETE', '/'), 404, 'NOT_FOUND');
  });
});

describe('auth rate limits', () => {
  let api: RunningApi;

  beforeAll(async () => {
    // Trusting X-Forwarded-For lets one test client stand for many addresses.
    api = await start(await newDataDir(), { AUTH_RATE_LIMIT: '3', API_TRUST_PROXY: 'true' });
  });

  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  test('per IP: the fourth attempt in a minute is 429 with Retry-After', async () => {
    for (const name of ['u1', 'u2', 'u3']) expect((await signIn(api, name, 'password', from('10.0.0.1'))).status).toBe(401);
    const limited = await signIn(api, 'u4', 'password', from('10.0.0.1'));
    expectError(limited, 429, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Sign-up counts as an attempt too; another address is not affected.
    const signUpFromSameIp = { json: { username: 'u5', password: 'password123' }, headers: from('10.0.0.1') };
    expectError(await call(api, 'POST', '/api/auth/local/signup', signUpFromSameIp), 429, 'RATE_LIMITED');
    expect((await signIn(api, 'u4', 'password', from('10.0.0.2'))).status).toBe(401);
  });

  // Wrong passwords per user name and address, and per account, are abuse-limits.test.ts's: no
  // limit counts by user name alone (that let a stranger lock the owner out).
});

describe('restart', () => {
  test('users and the signing key survive a restart on the same data dir', async () => {
    const dataDir = await newDataDir();
    const first = await start(dataDir);
    const session = SessionResponse.parse((await signUp(first, 'judy', 'judys password', 'Judy')).body);
    const roomId = await voiceChannel(first, session.token);
    const grant = VoiceGrantResponse.parse((await call(first, 'POST', '/api/voice/grant', { token: session.token, json: { roomId } })).body);
    const firstJwks = (await call(first, 'GET', '/api/.well-known/jwks.json')).body;
    await first.close();

    const second = await start(dataDir);
    expect((await call(second, 'GET', '/api/.well-known/jwks.json')).body).toEqual(firstJwks);
    expect((await call(second, 'GET', '/api/me', { token: session.token })).body).toEqual(session.user);
    await expect(jwtVerify(grant.grant, createLocalJWKSet((await call(second, 'GET', '/api/.well-known/jwks.json')).body as never), { audience: GRANT_AUDIENCE })).resolves.toBeDefined();
    const again = await signIn(second, 'judy', 'judys password');
    expect(again.status).toBe(200);
    expect(SessionResponse.parse(again.body).user).toEqual(session.user);
    expectError(await signUp(second, 'judy'), 409, 'CONFLICT');
  });
});
