import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSigningKeys, signToken, type SigningKeys } from '@concord/api';
import { REALTIME_NAMESPACE, SESSION_AUDIENCE, VOICE_NAMESPACE, type VoicePermissions } from '@concord/protocol';
import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { errorCode, failure, ok } from '@concord/testkit/src/voice-client';

let h: Harness;
/** A key the API never had: what a forger signs with. */
let otherKeys: SigningKeys;
let otherDataDir: string;

beforeAll(async () => {
  h = await startHarness();
  otherDataDir = await mkdtemp(path.join(tmpdir(), 'concord-other-key-'));
  otherKeys = await loadSigningKeys({ dataDir: otherDataDir });
});

afterAll(async () => {
  await h?.close();
  if (otherDataDir) await rm(otherDataDir, { recursive: true, force: true });
});

describe.each([VOICE_NAMESPACE, REALTIME_NAMESPACE])('connecting to %s', (namespace) => {
  test.each<[string, () => Promise<Record<string, unknown>>]>([
    ['no token', async () => ({})],
    ['an empty token', async () => ({ token: '' })],
    ['a token that is not a string', async () => ({ token: { sub: 'alice' } })],
    ['a garbage token', async () => ({ token: 'not.a.jwt' })],
    ['an expired session token', async () => ({ token: await h.sessionToken('alice', -60) })],
    ['a voice grant instead of a session token', async () => ({ token: await h.grantFor('alice', 'lobby') })],
    [
      'a session token signed by another key under our key id',
      async () => ({ token: (await signToken({ ...otherKeys, kid: h.keys.kid }, SESSION_AUDIENCE, { sub: 'alice', name: 'Alice', sid: 'alice-session' }, 3_600)).token }),
    ],
  ])('is refused with %s', async (_case, auth) => {
    expect(await h.connectRefusal(await auth(), namespace)).toBe('UNAUTHENTICATED');
  });
});

describe('connecting', () => {
  test('succeeds with a valid session, and the socket is served', async () => {
    const socket = await h.connectClient('alice');
    expect(socket.connected).toBe(true);
    // Authenticated and handled: a request gets a typed answer, not silence.
    expect(await errorCode(socket, 'voice:leave', {})).toBe('NOT_IN_ROOM');
  });
});

describe('joining', () => {
  const PERMS: VoicePermissions = { speak: true, video: false, screen: true };

  test.each<[string, () => Promise<unknown>]>([
    ['no grant field', async () => ({})],
    ['an empty grant', async () => ({ grant: '' })],
    ['a garbage grant', async () => ({ grant: 'garbage' })],
    ['a forged grant (another key)', async () => ({ grant: await h.grantFor('bob', 'join-room', PERMS, { keys: otherKeys }) })],
    [
      'a forged grant (another key, claiming our key id)',
      async () => ({ grant: await h.grantFor('bob', 'join-room', PERMS, { keys: { ...otherKeys, kid: h.keys.kid } }) }),
    ],
    ['an expired grant', async () => ({ grant: await h.grantFor('bob', 'join-room', PERMS, { ttlSeconds: -5 }) })],
    ['the grant of another user', async () => ({ grant: await h.grantFor('carol', 'join-room', PERMS) })],
    ['a session token instead of a grant', async () => ({ grant: await h.sessionToken('bob') })],
  ])('with %s answers GRANT_INVALID', async (_case, payload) => {
    const socket = await h.connectClient('bob');
    expect(await errorCode(socket, 'voice:join', await payload())).toBe('GRANT_INVALID');
    // Refused, not joined: room requests still need a join.
    expect(await errorCode(socket, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
  });

  test('an expired grant says so', async () => {
    const socket = await h.connectClient('bob');
    const error = await failure(socket, 'voice:join', { grant: await h.grantFor('bob', 'join-room', PERMS, { ttlSeconds: -5 }) });
    expect(error).toEqual({ code: 'GRANT_INVALID', message: 'token expired' });
  });

  test('with a valid grant answers the room, the router capabilities and the permissions of the grant', async () => {
    const socket = await h.connectClient('dave');
    const joined = await ok(socket, 'voice:join', { grant: await h.grantFor('dave', 'valid-room', PERMS) });
    expect(joined).toMatchObject({ roomId: 'valid-room', peerId: 'dave', peers: [], permissions: PERMS });
    const codecs = joined.routerRtpCapabilities.codecs ?? [];
    expect(codecs.map((codec) => codec.mimeType)).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8']));
    expect(codecs.find((codec) => codec.mimeType === 'audio/opus')).toMatchObject({ kind: 'audio', clockRate: 48000, channels: 2 });
    // The room now lives on the node.
    expect(h.node.workers().flatMap((worker) => worker.roomIds)).toContain('valid-room');
  });
});
