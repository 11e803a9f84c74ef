import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Agent } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { ProtocolError } from '@concord/protocol';
import { freePort } from '@concord/testkit/src/ports';
import { FirebaseIdentityProvider, type FirebaseProfile, type FirebaseUserDirectory } from './firebase';

/**
 * The production path, offline: firebase-admin checks RS256 signatures against the certificates
 * Google publishes. The emulator tests cannot show that (emulator tokens are unsigned), so here a
 * local server plays Google's certificate endpoint, reached through firebase-admin's httpAgent.
 */

const PROJECT = 'concord-prod-test';
const ISSUER = `https://securetoken.google.com/${PROJECT}`;
const KID = 'google-key-1';
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const google = rsa();
const attacker = rsa();

/** An https agent whose every connection goes, in plain HTTP, to a port of ours. */
function agentTo(port: number): Agent {
  return Object.assign(new Agent({ keepAlive: false }), { createConnection: () => connect(port, '127.0.0.1') });
}

class MemoryDirectory implements FirebaseUserDirectory {
  readonly users = new Map<string, { id: string; displayName: string }>();
  async ensureFirebaseUser(profile: FirebaseProfile) {
    let user = this.users.get(profile.uid);
    if (!user) this.users.set(profile.uid, (user = { id: `user-of-${profile.uid}`, displayName: profile.displayName }));
    return user;
  }
}

function idToken(key: KeyObject, claims: JWTPayload = {}, kid = KID): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: PROJECT,
    sub: 'uid-ada',
    user_id: 'uid-ada',
    iat: now,
    exp: now + 3600,
    auth_time: now,
    name: 'Ada',
    email: 'ada@example.com',
    firebase: { identities: {}, sign_in_provider: 'password' },
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
}

let certServer: Server;
const certRequests: string[] = [];
let directory: MemoryDirectory;
let provider: FirebaseIdentityProvider;
const savedEmulatorHost = process.env.FIREBASE_AUTH_EMULATOR_HOST;

beforeAll(async () => {
  delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
  certServer = createServer((req, res) => {
    certRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    res.end(JSON.stringify({ [KID]: google.publicKey.export({ type: 'spki', format: 'pem' }) }));
  });
  await new Promise<void>((resolve) => certServer.listen(0, '127.0.0.1', resolve));
  directory = new MemoryDirectory();
  provider = new FirebaseIdentityProvider({ projectId: PROJECT, users: directory, httpAgent: agentTo((certServer.address() as AddressInfo).port) });
});

afterAll(async () => {
  await provider.close();
  await new Promise((resolve) => certServer.close(resolve));
  if (savedEmulatorHost !== undefined) process.env.FIREBASE_AUTH_EMULATOR_HOST = savedEmulatorHost;
});

test("a token signed with Google's key is accepted, and its account becomes a user", async () => {
  expect(await provider.authenticate(await idToken(google.privateKey))).toEqual({ userId: 'user-of-uid-ada', displayName: 'Ada' });
  expect(certRequests).toEqual(['/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com']);
  expect(provider.emulated).toBe(false);
});

test('forged, unsigned, expired, wrong-project and unknown-key tokens are refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  // Signed by someone else under Google's key id.
  expect(await provider.authenticate(await idToken(attacker.privateKey))).toBeNull();
  // An emulator token: accepted only in emulator mode.
  const unsigned = new UnsecuredJWT({ user_id: 'uid-ada', auth_time: now }).setIssuer(ISSUER).setAudience(PROJECT).setSubject('uid-ada').setIssuedAt().setExpirationTime('1h').encode();
  expect(await provider.authenticate(unsigned)).toBeNull();
  expect(await provider.authenticate(await idToken(google.privateKey, { iat: now - 7200, exp: now - 3600 }))).toBeNull();
  expect(await provider.authenticate(await idToken(google.privateKey, { aud: 'someone-elses-app' }))).toBeNull();
  expect(await provider.authenticate(await idToken(google.privateKey, { iss: 'https://securetoken.google.com/someone-elses-app', aud: 'someone-elses-app' }))).toBeNull();
  expect(await provider.authenticate(await idToken(google.privateKey, {}, 'retired-key'))).toBeNull();
  expect(await provider.authenticate('not.a.jwt')).toBeNull();
  expect([...directory.users.keys()]).toEqual(['uid-ada']);
});

test("Google's keys out of reach is our outage (UNAVAILABLE), not the user's bad token", async () => {
  const nobody = await freePort();
  const cut = new FirebaseIdentityProvider({ projectId: PROJECT, users: directory, httpAgent: agentTo(nobody) });
  try {
    const error = await cut.authenticate(await idToken(google.privateKey)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
  } finally {
    await cut.close();
  }
});
