import pino from 'pino';
import type { JoinResponse } from '@concord/protocol';
import { ControlServer, type ControlHandlers } from './control-server';
import { ControlClient, TEST_SECRET } from '@concord/testkit/src/sfu';
import { eventually } from '@concord/testkit/src/wait';

const joinResponse: JoinResponse = {
  roomId: 'r',
  peerId: 'p',
  routerRtpCapabilities: {},
  peers: [],
  permissions: { speak: true, video: false, screen: false },
};

/** Handlers that record what reached them, and over which connection; the server alone is under test here. */
const received: unknown[] = [];
const connectionIds: string[] = [];
const lostConnectionIds: string[] = [];
const handlers: ControlHandlers = {
  'peer.join': async (request, connection) => {
    received.push(request);
    connectionIds.push(connection.id);
    return joinResponse;
  },
  'peer.disconnect': async () => ({}),
  'peer.leave': async () => {
    throw new Error('a bug with secrets inside');
  },
  'peer.setPermissions': async () => ({ closedProducerIds: [] }),
  'room.remove': async () => ({}),
  'peer.request': async () => ({}),
  'pipe.open': async () => {
    throw new Error('not under test here');
  },
  'pipe.produce': async () => ({}),
  'pipe.producerState': async () => ({}),
  'pipe.peer': async () => ({}),
  'pipe.close': async () => ({}),
};

let server: ControlServer;
let control: ControlClient;

beforeAll(async () => {
  server = await ControlServer.listen({
    host: '127.0.0.1',
    port: 0,
    secret: TEST_SECRET,
    handlers,
    onConnectionLost: (connectionId) => lostConnectionIds.push(connectionId),
    logger: pino({ level: 'silent' }),
  });
  control = await ControlClient.connect(`http://127.0.0.1:${server.port}`);
});

afterAll(async () => {
  control?.close();
  await server?.close();
});

const join = { roomId: 'r', peerId: 'p', sessionId: 's', displayName: 'P', permissions: joinResponse.permissions };

test('a valid request reaches its handler and is acked with its result', async () => {
  expect(await control.request('peer.join', join)).toEqual({ ok: true, data: joinResponse });
  expect(received).toEqual([join]);
});

test('an invalid request never reaches its handler', async () => {
  received.length = 0;
  const result = await control.send('peer.join', { ...join, permissions: { speak: 'yes' }, extra: 1 });
  expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining('permissions.speak') } });
  expect(received).toEqual([]);
});

test('an unexpected exception becomes INTERNAL without its message', async () => {
  expect(await control.send('peer.leave', { roomId: 'r', peerId: 'p', sessionId: 's' })).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
});

test('room events reach every connected signaling server', async () => {
  const other = await ControlClient.connect(`http://127.0.0.1:${server.port}`);
  server.broadcast({ roomId: 'r', to: ['p'], event: 'voice:peerLeft', data: { peerId: 'q' } });
  await control.waitFor('r', 'p', 'voice:peerLeft');
  await other.waitFor('r', 'p', 'voice:peerLeft');
  other.close();
});

test('a request names its connection, and a dropped connection is reported by that name', async () => {
  const client = await ControlClient.connect(`http://127.0.0.1:${server.port}`);
  const connectionId = client.socket.id!;
  await client.ok('peer.join', join);
  expect(connectionIds.at(-1)).toBe(connectionId);
  expect(lostConnectionIds).not.toContain(connectionId);
  client.close();
  await eventually(() => lostConnectionIds.includes(connectionId));
  expect(lostConnectionIds).not.toContain(control.socket.id);
});

test('a wrong or missing secret is refused', async () => {
  await expect(ControlClient.connect(`http://127.0.0.1:${server.port}`, `${TEST_SECRET}-not`)).rejects.toThrow('unauthorized');
  await expect(ControlClient.connect(`http://127.0.0.1:${server.port}`, '')).rejects.toThrow('unauthorized');
});

test('a payload over 64 KiB drops the connection', async () => {
  const client = await ControlClient.connect(`http://127.0.0.1:${server.port}`);
  const disconnected = new Promise((resolve) => client.socket.once('disconnect', resolve));
  client.send('peer.join', { ...join, displayName: 'x'.repeat(70 * 1024) }).catch(() => undefined);
  await disconnected;
  client.close();
});
