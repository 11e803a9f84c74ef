import pino from 'pino';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { REALTIME_NAMESPACE, VOICE_NAMESPACE } from '@concord/protocol';
import { RedisUserConnections } from './connection-cap';
import { startHarness, type Harness, type SignalingProcess } from '@concord/testkit/src/signaling';
import type { ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually } from '@concord/testkit/src/wait';

/*
 * Sockets per user (SIGNALING_MAX_SOCKETS_PER_USER): the one past the cap is refused at the
 * handshake with a typed RATE_LIMITED error; closing one makes room; other users are not
 * affected; sockets of both namespaces (calls and real-time events) count towards it; and in a
 * cluster the cap holds across signaling processes that share Redis.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = pino({ level: 'silent' });
const CAP = 3;

let harness: Harness;
const opened: ClientSocket[] = [];

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.close();
  await harness?.close();
});

/** Connects as `userId` (to the voice namespace unless told): the socket, or the typed error of a refused handshake. */
async function connect(
  process: SignalingProcess,
  userId: string,
  namespace = VOICE_NAMESPACE,
): Promise<{ socket: ClientSocket } | { refused: { code: string; message: string } }> {
  const socket: ClientSocket = io(new URL(namespace, process.url).href, { auth: { token: await harness.sessionToken(userId) }, transports: ['websocket'], reconnection: false, forceNew: true });
  opened.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error) => resolve({ refused: (error as Error & { data: { code: string; message: string } }).data }));
  });
}

const refusal = { refused: { code: 'RATE_LIMITED', message: `too many connections: at most ${CAP} per user; close another tab or device first` } };

test('the socket past the cap is refused with RATE_LIMITED; closing one makes room; others are not affected', async () => {
  harness = await startHarness({ signaling: { maxSocketsPerUser: CAP } });
  const held = await Promise.all(Array.from({ length: CAP }, () => connect(harness, 'greedy')));
  expect(held.every((result) => 'socket' in result)).toBe(true);
  // A burst at once cannot slip through together either.
  const burst = await Promise.all(Array.from({ length: 20 }, () => connect(harness, 'greedy')));
  expect(burst).toEqual(Array(20).fill(refusal));
  expect('socket' in (await connect(harness, 'modest'))).toBe(true);

  (held[0] as { socket: ClientSocket }).socket.close();
  await eventually(async () => {
    const again = await connect(harness, 'greedy');
    return 'socket' in again;
  }, 3_000);
});

test('real-time and voice sockets count towards the same cap', async () => {
  harness = await startHarness({ signaling: { maxSocketsPerUser: CAP } });
  const held = [await connect(harness, 'caller', REALTIME_NAMESPACE), await connect(harness, 'caller'), await connect(harness, 'caller')];
  expect(held.every((result) => 'socket' in result)).toBe(true);
  expect(await connect(harness, 'caller', REALTIME_NAMESPACE)).toEqual(refusal);
  expect(await connect(harness, 'caller')).toEqual(refusal);

  // The real-time socket going makes room in either namespace.
  (held[0] as { socket: ClientSocket }).socket.close();
  await eventually(async () => 'socket' in (await connect(harness, 'caller')), 3_000);
});

test('in a cluster the cap holds across signaling processes sharing Redis, and a dead process frees its places', async () => {
  const keyPrefix = `concord-test:sockets:${process.pid}:${Date.now()}:`;
  const counters = ['one', 'two'].map((instanceId) => new RedisUserConnections(REDIS_URL, { keyPrefix, instanceId, log: silent }));
  harness = await startHarness({ signaling: { maxSocketsPerUser: CAP }, userConnections: counters[0] });
  const second = await harness.addSignaling({ signaling: { maxSocketsPerUser: CAP }, userConnections: counters[1] });
  const redis = new Redis(REDIS_URL);
  try {
    const results = [await connect(harness, 'roamer'), await connect(second, 'roamer'), await connect(second, 'roamer')];
    expect(results.every((result) => 'socket' in result)).toBe(true);
    expect(await connect(harness, 'roamer')).toEqual(refusal);
    expect(await connect(second, 'roamer')).toEqual(refusal);
    expect(await redis.zcard(`${keyPrefix}sockets:roamer`)).toBe(CAP);

    // A place whose process stopped refreshing it lapses: simulate by expiring one entry's score.
    const [member] = await redis.zrange(`${keyPrefix}sockets:roamer`, '0', '0');
    await redis.zadd(`${keyPrefix}sockets:roamer`, String(Date.now() - 1), member!);
    expect('socket' in (await connect(harness, 'roamer'))).toBe(true);
  } finally {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});
