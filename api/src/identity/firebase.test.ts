import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteApp, initializeApp, type FirebaseApp } from 'firebase/app';
import {
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  inMemoryPersistence,
  initializeAuth,
  signInWithEmailAndPassword,
  signOut,
  updateProfile,
  type Auth,
} from 'firebase/auth';
import pino from 'pino';
import { PublicUser, SecondFactorChallenge, SessionResponse, TotpSetupResponse } from '@concord/protocol';
import { startFirebaseAuthEmulator, type FirebaseAuthEmulator } from '@concord/testkit/src/firebase-emulator';
import { raceInserts } from '@concord/testkit/src/insert-barrier';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { createApiApp } from '../app';
import { loadConfig, type ApiConfig } from '../config';
import { openDatabase, type OpenedDatabase } from '../db';
import { buildApiDeps, type BuiltApiDeps } from '../server';
import { totpCode, totpStepAt } from '../two-factor/totp';
import { PgUserStore } from '../users-pg';
import { buildIdentity, type Identity } from './build';

/**
 * Firebase sign-in end to end: the Auth emulator (real firebase-tools), the web SDK signing users
 * up and in, the real API routes on PostgreSQL.
 */

const silent = pino({ level: 'silent' });

let emulator: FirebaseAuthEmulator | undefined;
let testDb: TestDatabase | undefined;
let database: OpenedDatabase | undefined;
let identity: Identity | undefined;
let deps: BuiltApiDeps | undefined;
let server: Server | undefined;
let dataDir: string;
let apiUrl: string;
let client: FirebaseApp | undefined;
let auth: Auth;
let projectId: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-firebase-api-'));
  [emulator, testDb] = await Promise.all([startFirebaseAuthEmulator(), createTestDatabase()]);
  projectId = emulator.projectId;
  // What firebase-admin reads; jest gives each test file its own process.env.
  process.env.FIREBASE_AUTH_EMULATOR_HOST = emulator.host;
  database = await openDatabase({ databaseUrl: testDb.url, dataDir });
  const users = new PgUserStore(database.db);

  const config: ApiConfig = loadConfig({
    CONCORD_DATA_DIR: dataDir,
    DATABASE_URL: testDb.url,
    AUTH_RATE_LIMIT: '1000',
    FIREBASE_PROJECT_ID: projectId,
    FIREBASE_AUTH_EMULATOR_HOST: emulator.host,
    ALLOW_FIREBASE_AUTH_EMULATOR: '1',
  });
  // The API as it will be wired once it runs on PostgreSQL: buildApiDeps' keys, limits and grants
  // with the PostgreSQL user store and the identity built for it.
  const { firebaseProjectId: _project, firebaseAuthEmulatorHost: _emulator, ...localOnly } = config;
  deps = await buildApiDeps(localOnly, silent);
  identity = buildIdentity(config, deps.keys, users, deps.sessionService, silent);
  const app = createApiApp({ ...deps, users, sessions: identity.sessions, identity: identity.identity });
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  client = initializeApp({ apiKey: 'demo-api-key', projectId, authDomain: `${projectId}.firebaseapp.com` }, 'concord-test-client');
  auth = initializeAuth(client, { persistence: inMemoryPersistence });
  connectAuthEmulator(auth, `http://${emulator.host}`, { disableWarnings: true });
}, 90_000);

afterAll(async () => {
  if (client) {
    await signOut(auth).catch(() => undefined);
    await deleteApp(client);
  }
  await identity?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
  }
  await deps?.close();
  await database?.close();
  await testDb?.drop();
  await emulator?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: unknown;
}

async function call(method: string, route: string, options: { token?: string; json?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${apiUrl}${route}`, { method, headers, ...(options.json !== undefined && { body: JSON.stringify(options.json) }) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const me = (token: string) => call('GET', '/api/me', { token });

const expectUnauthenticated = (reply: Reply) => expect(reply).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });

async function userRows(firebaseUid: string) {
  const { rows } = await database!.db.query<{ id: string; username: string | null; display_name: string; password_hash: string | null }>(
    'SELECT id, username, display_name, password_hash FROM users WHERE firebase_uid = $1',
    [firebaseUid],
  );
  return rows;
}

/** A new Firebase account through the web SDK, signed in afresh; returns its uid and ID token. */
async function firebaseUser(email: string, displayName?: string): Promise<{ uid: string; token: string }> {
  const { user } = await createUserWithEmailAndPassword(auth, email, 'correct horse battery');
  if (displayName) await updateProfile(user, { displayName });
  await signOut(auth);
  const signedIn = await signInWithEmailAndPassword(auth, email, 'correct horse battery');
  return { uid: signedIn.user.uid, token: await signedIn.user.getIdToken() };
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

const decode = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/**
 * The emulator's own ID token with some claims changed. Its tokens are unsigned (`alg: none`) and
 * firebase-admin accepts exactly that in emulator mode, so we can set claims the emulator would not
 * mint (a past `exp`, another project). Its other claims (`auth_time` after the account's
 * tokensValidAfterTime, which firebase-admin checks against the emulator) stay as they were.
 */
function alteredToken(token: string, claims: Record<string, unknown> = {}): string {
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...decode(token), ...claims })}.`;
}

describe('Firebase sign-in against the Auth emulator', () => {
  let ada: { uid: string; token: string };

  beforeAll(async () => {
    ada = await firebaseUser('ada@example.com', 'Ada Lovelace');
  });

  test('a signed-in Firebase user gets their Concord user, created on the first request', async () => {
    expect(await userRows(ada.uid)).toHaveLength(0);
    const first = await me(ada.token);
    expect(first.status).toBe(200);
    const user = PublicUser.parse(first.body);
    expect(user.displayName).toBe('Ada Lovelace');
    const rows = await userRows(ada.uid);
    expect(rows).toEqual([{ id: user.id, username: null, display_name: 'Ada Lovelace', password_hash: null }]);

    const again = await me(ada.token);
    expect(again).toEqual({ status: 200, body: first.body });
    expect(await userRows(ada.uid)).toHaveLength(1);
  });

  test("without a name claim the display name is the email's local part", async () => {
    const grace = await firebaseUser('grace.hopper@example.com');
    expect(await me(grace.token)).toMatchObject({ status: 200, body: { displayName: 'grace.hopper' } });
  });

  test('a re-made token with unchanged claims is accepted (the control for the tests that change them)', async () => {
    expect(await me(alteredToken(ada.token))).toMatchObject({ status: 200, body: { displayName: 'Ada Lovelace' } });
  });

  test('an expired token is refused', async () => {
    expectUnauthenticated(await me(alteredToken(ada.token, { exp: Math.floor(Date.now() / 1000) - 60 })));
  });

  test('a token of another Firebase project is refused', async () => {
    const other = 'demo-other';
    expectUnauthenticated(await me(alteredToken(ada.token, { aud: other })));
    expectUnauthenticated(await me(alteredToken(ada.token, { iss: `https://securetoken.google.com/${other}`, aud: other })));
  });

  test('a token signed with some other key is refused', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signingInput = `${base64url({ alg: 'RS256', kid: 'not-googles', typ: 'JWT' })}.${base64url(decode(ada.token))}`;
    const forged = `${signingInput}.${sign('sha256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
    expectUnauthenticated(await me(forged));
  });

  test('garbage, and tokens of accounts Firebase does not know, are refused', async () => {
    expectUnauthenticated(await me('not-a-jwt'));
    expectUnauthenticated(await me(alteredToken(ada.token, { sub: 'no-such-firebase-user', user_id: 'no-such-firebase-user' })));
  });

  test('ten concurrent first requests of a new Firebase user create exactly one Concord user', async () => {
    const linus = await firebaseUser('linus@example.com', 'Linus');
    expect(await userRows(linus.uid)).toHaveLength(0);
    const replies = await raceInserts(testDb!.url, 'users', 10, () => Promise.all(Array.from({ length: 10 }, () => me(linus.token))));
    expect(replies.map((reply) => reply.status)).toEqual(Array(10).fill(200));
    const ids = new Set(replies.map((reply) => PublicUser.parse(reply.body).id));
    expect(ids.size).toBe(1);
    const rows = await userRows(linus.uid);
    expect(rows.map((row) => row.id)).toEqual([...ids]);
  });

  test('a Firebase ID token is exchanged for a Concord session of the same user; our own sessions are not', async () => {
    const exchanged = await call('POST', '/api/auth/firebase/session', { token: ada.token });
    expect(exchanged.status).toBe(200);
    const session = SessionResponse.parse(exchanged.body);
    expect(await me(session.token)).toEqual({ status: 200, body: session.user });
    expect(session.user).toEqual((await me(ada.token)).body);
    expect(await call('POST', '/api/auth/firebase/session', { token: session.token })).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
    expectUnauthenticated(await call('POST', '/api/auth/firebase/session', { token: alteredToken(ada.token, { aud: 'another-project' }) }));
  });

  test('an exchanged session is revocable like a local one; the Firebase ID token itself has no session of ours to sign out, and no password', async () => {
    const first = SessionResponse.parse((await call('POST', '/api/auth/firebase/session', { token: ada.token })).body);
    const second = SessionResponse.parse((await call('POST', '/api/auth/firebase/session', { token: ada.token })).body);
    expect(await call('POST', '/api/auth/sign-out-everywhere', { token: second.token })).toMatchObject({ status: 200 });
    expectUnauthenticated(await me(first.token));
    expect(await me(second.token)).toMatchObject({ status: 200 });
    expect(await call('POST', '/api/auth/sign-out', { token: second.token })).toMatchObject({ status: 204 });
    expectUnauthenticated(await me(second.token));
    expect(await call('POST', '/api/auth/sign-out', { token: ada.token })).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
    const change = { currentPassword: 'anything at all', newPassword: 'a brand new password' };
    expect(await call('POST', '/api/auth/password', { token: ada.token, json: change })).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
  });

  test('local sign-in keeps working beside Firebase', async () => {
    const signUp = await call('POST', '/api/auth/local/signup', { json: { username: 'alice', password: 'correct horse battery' } });
    expect(signUp.status).toBe(201);
    const session = SessionResponse.parse(signUp.body);
    expect(await me(session.token)).toEqual({ status: 200, body: session.user });
    const signIn = await call('POST', '/api/auth/local/signin', { json: { username: 'ALICE', password: 'correct horse battery' } });
    expect(signIn.status).toBe(200);
    expect(await me(SessionResponse.parse(signIn.body).token)).toEqual({ status: 200, body: session.user });
    // A Firebase account has no password and no user name to sign in with.
    expect((await call('POST', '/api/auth/local/signin', { json: { username: 'ada', password: 'correct horse battery' } })).status).toBe(401);
  });

  test('two-factor sign-in on top of Firebase: the ID token then only starts signing in; the code makes the session', async () => {
    const grace = await firebaseUser('grace@example.com', 'Grace');
    const session = SessionResponse.parse((await call('POST', '/api/auth/firebase/session', { token: grace.token })).body);
    const { secret } = TotpSetupResponse.parse((await call('POST', '/api/auth/2fa/totp', { token: session.token })).body);
    // Codes of this step and the next: no step boundary can put both out of the ±1 step window.
    const step = totpStepAt(Date.now());
    expect(await call('POST', '/api/auth/2fa/totp/confirm', { token: session.token, json: { code: totpCode(secret, step) } })).toMatchObject({ status: 200 });

    // The Firebase ID token alone no longer reaches anything but the exchange...
    expect(await me(grace.token)).toMatchObject({ status: 403, body: { error: { code: 'TWO_FACTOR_REQUIRED' } } });
    expect(await call('GET', '/api/users/@me/servers', { token: grace.token })).toMatchObject({ status: 403, body: { error: { code: 'TWO_FACTOR_REQUIRED' } } });
    // ...which answers a challenge, not a session.
    const exchanged = await call('POST', '/api/auth/firebase/session', { token: grace.token });
    expect(exchanged.status).toBe(200);
    const { challenge } = SecondFactorChallenge.parse(exchanged.body).secondFactor;
    expectUnauthenticated(await me(challenge));
    expect(await call('POST', '/api/auth/2fa/verify', { json: { challenge, code: totpCode(secret, step) } })).toMatchObject({ status: 401, body: { error: { code: 'INVALID_CREDENTIALS' } } });
    const verified = await call('POST', '/api/auth/2fa/verify', { json: { challenge, code: totpCode(secret, step + 1) } });
    expect(verified.status).toBe(200);
    const second = SessionResponse.parse(verified.body);
    expect(await me(second.token)).toMatchObject({ status: 200, body: { id: session.user.id } });
  });
});
