import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import pino from 'pino';
import { TOKEN_ISSUER, type PublicUser } from '@concord/protocol';
import { loadConfig } from '../config';
import { loadSigningKeys, type SigningKeys } from '../keys';
import { FileUserStore } from '../users';
import { buildIdentity } from './build';
import { CompositeIdentityProvider } from './composite';
import { FirebaseIdentityProvider, firebaseDisplayName, type FirebaseUserDirectory } from './firebase';
import { LocalIdentityProvider } from './local';
import type { AuthenticatedUser, IssuerIdentityProvider, SessionRecords } from './provider';

const silent = pino({ level: 'silent' });
/** Sessions in memory: these tests are about routing tokens, not about the sessions table. */
const sessionsInMemory = (): SessionRecords => {
  const owners = new Map<string, string>();
  return {
    open: async (userId) => {
      const id = `session-${owners.size + 1}`;
      owners.set(id, userId);
      return id;
    },
    isLive: async (sessionId, userId) => owners.get(sessionId) === userId,
  };
};
const client = { userAgent: 'test', ip: '127.0.0.1' };
const noUsers: FirebaseUserDirectory = { ensureFirebaseUser: () => Promise.reject(new Error('not in this test')) };

let dataDir: string;
let keys: SigningKeys;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-identity-'));
  keys = await loadSigningKeys({ dataDir });
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('configuration', () => {
  test('FIREBASE_PROJECT_ID is optional and checked', () => {
    expect(loadConfig({}).firebaseProjectId).toBeUndefined();
    expect(loadConfig({ FIREBASE_PROJECT_ID: 'concord-prod-42' }).firebaseProjectId).toBe('concord-prod-42');
    expect(() => loadConfig({ FIREBASE_PROJECT_ID: 'https://concord.firebaseapp.com' })).toThrow(/FIREBASE_PROJECT_ID/);
  });

  test('the Auth emulator variable refuses to start without the explicit test/dev flag', () => {
    const env = { FIREBASE_PROJECT_ID: 'demo-concord', FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' };
    expect(() => loadConfig(env)).toThrow(/FIREBASE_AUTH_EMULATOR_HOST.*unsigned/);
    expect(() => loadConfig({ ...env, ALLOW_FIREBASE_AUTH_EMULATOR: 'yes please' })).toThrow(/ALLOW_FIREBASE_AUTH_EMULATOR=1/);
    // Even without Firebase configured: the variable has no business in a production environment.
    expect(() => loadConfig({ FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' })).toThrow(/FIREBASE_AUTH_EMULATOR_HOST/);
    expect(loadConfig({ ...env, ALLOW_FIREBASE_AUTH_EMULATOR: '1' }).firebaseAuthEmulatorHost).toBe('127.0.0.1:9099');
  });

  test('the provider refuses an emulator host in the environment that the configuration did not allow', async () => {
    const saved = process.env.FIREBASE_AUTH_EMULATOR_HOST;
    try {
      process.env.FIREBASE_AUTH_EMULATOR_HOST = '127.0.0.1:9099';
      expect(() => new FirebaseIdentityProvider({ projectId: 'demo-concord', users: noUsers })).toThrow(/unsigned tokens/);
      const allowed = new FirebaseIdentityProvider({ projectId: 'demo-concord', users: noUsers, emulatorHost: '127.0.0.1:9099' });
      // …and keeps checking: firebase-admin reads the variable on every call.
      delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
      const production = new FirebaseIdentityProvider({ projectId: 'demo-concord', users: noUsers });
      process.env.FIREBASE_AUTH_EMULATOR_HOST = '127.0.0.1:9099';
      await expect(production.authenticate('x.y.z')).rejects.toThrow(/unsigned tokens/);
      await Promise.all([allowed.close(), production.close()]);
    } finally {
      if (saved === undefined) delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
      else process.env.FIREBASE_AUTH_EMULATOR_HOST = saved;
    }
  });

  test('without FIREBASE_PROJECT_ID sign-in is local only, as before', async () => {
    const { sessions, identity } = buildIdentity(loadConfig({}), keys, await FileUserStore.open(dataDir), sessionsInMemory(), silent);
    expect(identity).toBeInstanceOf(LocalIdentityProvider);
    expect(sessions).toBe(identity);
  });

  test('Firebase sign-in needs a user store that can create Firebase users', async () => {
    const config = loadConfig({ FIREBASE_PROJECT_ID: 'demo-concord' });
    const users = await FileUserStore.open(dataDir);
    expect(() => buildIdentity(config, keys, users, sessionsInMemory(), silent)).toThrow(/PostgreSQL user store/);
  });
});

describe('CompositeIdentityProvider', () => {
  class Recording implements IssuerIdentityProvider {
    readonly seen: string[] = [];
    constructor(
      readonly issuer: string,
      private readonly answer: AuthenticatedUser | null,
    ) {}
    async authenticate(token: string): Promise<AuthenticatedUser | null> {
      this.seen.push(token);
      return this.answer;
    }
  }
  const user: PublicUser = { id: 'u-1', username: 'ada', displayName: 'Ada' };
  const firebaseIssuer = 'https://securetoken.google.com/demo-concord';
  const unsigned = (iss?: string) => new UnsecuredJWT({ sub: 'x' }).setIssuer(iss ?? '').encode();

  test('each token goes to the provider of its issuer only', async () => {
    const local = new LocalIdentityProvider(keys, 60, sessionsInMemory());
    const firebase = new Recording(firebaseIssuer, { userId: 'f-1', displayName: 'Grace' });
    const composite = new CompositeIdentityProvider([local, firebase]);

    const { token } = await local.issueSession(user, client);
    expect(await composite.authenticate(token)).toEqual({ userId: 'u-1', displayName: 'Ada', sessionId: 'session-1' });
    expect(firebase.seen).toEqual([]);

    const firebaseToken = unsigned(firebaseIssuer);
    expect(await composite.authenticate(firebaseToken)).toEqual({ userId: 'f-1', displayName: 'Grace' });
    expect(firebase.seen).toEqual([firebaseToken]);

    // Our issuer with someone else's key is refused by us and never offered to Firebase.
    const other = await loadSigningKeys({ dataDir: await mkdtemp(path.join(dataDir, 'other-')) });
    const forged = await new SignJWT({ sub: 'u-1', name: 'Ada' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience('concord-session')
      .setExpirationTime('1h')
      .sign(other.privateKey);
    expect(await composite.authenticate(forged)).toBeNull();
    expect(await composite.authenticate(unsigned('https://securetoken.google.com/demo-other'))).toBeNull();
    expect(await composite.authenticate(unsigned())).toBeNull();
    expect(await composite.authenticate('not a jwt')).toBeNull();
    expect(firebase.seen).toEqual([firebaseToken]);
  });

  test('two providers for one issuer is a configuration error', () => {
    expect(() => new CompositeIdentityProvider([new Recording(firebaseIssuer, null), new Recording(firebaseIssuer, null)])).toThrow(/two identity providers/);
  });
});

test('display name: the name claim, else the email local part, trimmed to 64 characters', () => {
  expect(firebaseDisplayName({ name: '  Ada Lovelace ', email: 'ada@example.com' })).toBe('Ada Lovelace');
  expect(firebaseDisplayName({ name: '   ', email: 'grace.hopper@example.com' })).toBe('grace.hopper');
  expect(firebaseDisplayName({ email: 'linus@example.com' })).toBe('linus');
  expect(firebaseDisplayName({})).toBe('New user');
  expect(Array.from(firebaseDisplayName({ name: '🎧'.repeat(100) }))).toHaveLength(64);
});

test('display name: a name claim the display-name rule refuses (control, line or bidi characters) falls back', () => {
  for (const name of ['Ada\u0000', 'Ada\nLovelace', 'gro\u202eup admin', 'x\u2066y']) {
    expect(firebaseDisplayName({ name, email: 'ada@example.com' })).toBe('ada');
  }
  expect(firebaseDisplayName({ name: 'a\u0007', email: 'b\u202e@example.com' })).toBe('New user');
  expect(firebaseDisplayName({ name: 'Cafe\u0301' })).toBe('Café');
});
