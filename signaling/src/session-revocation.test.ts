import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { io, type Socket } from 'socket.io-client';
import { InProcessRealtimePublisher, loadConfig, startApi, type RunningApi } from '@concord/api';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { startTestNode, TEST_SECRET } from '@concord/testkit/src/sfu';
import { eventually } from '@concord/testkit/src/wait';
import {
  REALTIME_NAMESPACE,
  SessionResponse,
  VOICE_NAMESPACE,
  VoiceGrantResponse,
  type ErrorBody,
  type Result,
  type SessionRevokedEvent,
} from '@concord/protocol';
import { RedisRevokedSessions, type InProcessRegistry } from '@concord/registry';
import type { SfuNode } from '@concord/sfu';
import { loadSignalingConfig } from './config';
import { Signaling } from './server';
import { TokenVerifier } from './token-verifier';

/**
 * Revoked sessions in signaling, with the real API (PostgreSQL, and Redis in the cluster case),
 * a real SFU node and socket.io clients: a revoked session's live sockets (of both namespaces) are
 * told why and closed, its voice peer leaves at once, it cannot open a socket again in either
 * namespace, and its grants admit no one.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'correct horse battery';
/** Long: a peer that leaves sooner was taken out, not dropped. */
const PEER_GRACE_MS = 20_000;
const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Untyped: the same checks run in both namespaces. */
type Client = Socket;

interface Platform {
  api: RunningApi;
  signalingUrl: string;
  close(): Promise<void>;
}

async function startPlatform(mode: 'cluster' | 'embedded', database: TestDatabase, registry: InProcessRegistry): Promise<Platform> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-revocation-'));
  const keyPrefix = `concord-revocation-test:${randomBytes(6).toString('hex')}:`;
  const cluster = mode === 'cluster';
  const inProcess = cluster ? undefined : new InProcessRealtimePublisher();
  const config = loadConfig({
    CONCORD_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    AUTH_RATE_LIMIT: '100000',
    REDIS_KEY_PREFIX: keyPrefix,
    ...(cluster && { REDIS_URL }),
  });
  const api = await startApi(config, silent, inProcess && { realtime: inProcess });
  const revokedSessions = cluster ? new RedisRevokedSessions(REDIS_URL, { keyPrefix }) : api.deps.sessionService;
  const httpServer: HttpServer = createServer();
  const signaling = new Signaling(httpServer, {
    config: loadSignalingConfig({}, { id: `${keyPrefix}signaling`, sfuSecret: TEST_SECRET, sfuRequestTimeoutMs: 2_000 }),
    registry,
    verifier: TokenVerifier.fromJwks(api.keys.jwks),
    revokedSessions,
    log: silent,
    ...(cluster && { realtime: { redis: { url: REDIS_URL, keyPrefix } } }),
  });
  inProcess?.attach(signaling.realtime);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    api,
    signalingUrl: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
    close: async () => {
      await signaling.close();
      await new Promise((resolve) => httpServer.close(resolve));
      if (revokedSessions instanceof RedisRevokedSessions) await revokedSessions.close();
      await api.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let database: TestDatabase;
let node: SfuNode;
let registry: InProcessRegistry;
const clients: Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  ({ node, registry } = await startTestNode({ peerGraceMs: PEER_GRACE_MS }));
});
afterAll(async () => {
  for (const client of clients) client.close();
  await node?.close();
  await registry?.close();
  await database?.drop();
});

describe.each(['embedded', 'cluster'] as const)('revoked sessions in signaling (%s)', (mode) => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform(mode, database, registry);
  });
  afterAll(() => platform?.close());

  async function call<T>(method: string, route: string, token: string | undefined, json?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${platform.api.url}${route}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(json !== undefined && { 'content-type': 'application/json' }) },
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
  async function ok<T>(method: string, route: string, token: string | undefined, json?: unknown): Promise<T> {
    const reply = await call<T>(method, route, token, json);
    if (reply.status >= 300) throw new Error(`${method} ${route}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }
  const signUp = async (name: string) =>
    SessionResponse.parse(await ok('POST', '/api/auth/local/signup', undefined, { username: `${name}${randomBytes(3).toString('hex')}`, password: PASSWORD }));
  const signIn = async (username: string, password = PASSWORD) => SessionResponse.parse(await ok('POST', '/api/auth/local/signin', undefined, { username, password }));
  const grantFor = async (token: string, roomId: string) => VoiceGrantResponse.parse(await ok('POST', '/api/voice/grant', token, { roomId })).grant;

  /** A connected socket, recording the revocations it is told of and why it was disconnected. */
  async function connect(token: string, namespace = VOICE_NAMESPACE): Promise<{ socket: Client; revoked: SessionRevokedEvent[]; disconnected: Promise<string> }> {
    const socket: Client = io(new URL(namespace, platform.signalingUrl).href, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    clients.push(socket);
    const revoked: SessionRevokedEvent[] = [];
    socket.on('session:revoked', (event: SessionRevokedEvent) => revoked.push(event));
    // Bounded, so that a socket left open fails the test with a reason instead of its timeout.
    const disconnected = new Promise<string>((resolve) => {
      socket.on('disconnect', (reason: string) => resolve(reason));
      setTimeout(() => resolve('still connected after 5 s'), 5_000).unref();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return { socket, revoked, disconnected };
  }
  async function refusal(token: string, namespace = VOICE_NAMESPACE): Promise<ErrorBody> {
    const socket: Client = io(new URL(namespace, platform.signalingUrl).href, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    clients.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('connected')));
      socket.once('connect_error', (error) => resolve((error as Error & { data: ErrorBody }).data));
    });
  }
  const join = (socket: Client, grant: string) =>
    new Promise<Result<unknown>>((resolve) => socket.timeout(5_000).emit('voice:join', { grant }, (error: unknown, result: Result<unknown>) => resolve(error ? { ok: false, error: { code: 'TIMEOUT', message: String(error) } } : result)));

  test('sign out everywhere closes the other sessions’ sockets with the reason, takes their peer out of the call at once, and refuses them afterwards', async () => {
    const owner = await signUp('owner');
    const listener = await signUp('listener');
    const server = await ok<{ id: string }>('POST', '/api/servers', owner.token, { name: 'Revocation test' });
    const channels = await ok<{ id: string; kind: string }[]>('GET', `/api/servers/${server.id}/channels`, owner.token);
    const roomId = channels.find((channel) => channel.kind === 'voice')!.id;
    const { code } = await ok<{ code: string }>('POST', `/api/servers/${server.id}/invites`, owner.token, {});
    await ok('POST', `/api/invites/${code}/accept`, listener.token);

    // The owner's second session (another device), which signs the first one out.
    const laptop = await signIn(owner.user.username);
    const oldGrant = await grantFor(owner.token, roomId);
    const phone = await connect(owner.token);
    const phoneGateway = await connect(owner.token, REALTIME_NAMESPACE);
    const laptopSocket = await connect(laptop.token);
    const other = await connect(listener.token);
    expect(await join(other.socket, await grantFor(listener.token, roomId))).toMatchObject({ ok: true });
    const left: string[] = [];
    other.socket.on('voice:peerLeft', ({ peerId }: { peerId: string }) => left.push(peerId));
    expect(await join(phone.socket, await grantFor(owner.token, roomId))).toMatchObject({ ok: true });

    const before = Date.now();
    expect(await ok('POST', '/api/auth/sign-out-everywhere', laptop.token)).toEqual({ revoked: 1 });
    expect(await phone.disconnected).toBe('io server disconnect');
    expect(phone.revoked).toEqual([{ reason: 'signed-out-everywhere' }]);
    expect(await phoneGateway.disconnected).toBe('io server disconnect');
    expect(phoneGateway.revoked).toEqual([{ reason: 'signed-out-everywhere' }]);
    // Out of the call for the others at once, not after the reconnect grace period.
    await eventually(() => left.includes(owner.user.id), 5_000);
    expect(Date.now() - before).toBeLessThan(PEER_GRACE_MS / 2);

    // The session is refused a new socket, and its grants admit no one, not even the same user's live session.
    for (const namespace of [VOICE_NAMESPACE, REALTIME_NAMESPACE]) {
      expect(await refusal(owner.token, namespace)).toEqual({ code: 'UNAUTHENTICATED', message: 'this session was signed out' });
    }
    expect(await join(laptopSocket.socket, oldGrant)).toEqual({ ok: false, error: { code: 'GRANT_INVALID', message: 'the grant belongs to another session' } });
    expect(laptopSocket.socket.connected).toBe(true);
    expect(laptopSocket.revoked).toEqual([]);
    expect(await join(laptopSocket.socket, await grantFor(laptop.token, roomId))).toMatchObject({ ok: true });
    expect(other.socket.connected).toBe(true);
    expect(other.revoked).toEqual([]);
  });

  test('sign-out and a password change close the sockets of the sessions they end', async () => {
    const user = await signUp('walker');
    const desk = await signIn(user.user.username);
    const first = await connect(user.token, REALTIME_NAMESPACE);
    const second = await connect(desk.token);

    expect(await ok('POST', '/api/auth/password', user.token, { currentPassword: PASSWORD, newPassword: 'another long password' })).toEqual({ revoked: 1 });
    expect(await second.disconnected).toBe('io server disconnect');
    expect(second.revoked).toEqual([{ reason: 'password-changed' }]);
    expect(first.socket.connected).toBe(true);

    expect(await call('POST', '/api/auth/sign-out', user.token)).toMatchObject({ status: 204 });
    expect(await first.disconnected).toBe('io server disconnect');
    expect(first.revoked).toEqual([{ reason: 'signed-out' }]);
    expect(await refusal(user.token, REALTIME_NAMESPACE)).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await refusal(desk.token)).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
