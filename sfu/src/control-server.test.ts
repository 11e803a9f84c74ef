import pino from 'pino';
import type { JoinResponse } from '@concord/protocol';
import { ControlServer, type ControlHandlers } from './control-server';
import { ControlClient, TEST_SECRET } from '@concord/testkit/src/sfu';
import { eventually, sleep } from '@concord/testkit/src/wait';

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

test('room events reach the connections that joined a peer of the room, peers’ own events only the one holding them, until it unsubscribes', async () => {
  const url = `http://127.0.0.1:${server.port}`;
  const [other, bystander] = await Promise.all([ControlClient.connect(url), ControlClient.connect(url)]);
  // `control` joined peer p to room r above; `other` joins q.
  await other.ok('peer.join', { ...join, peerId: 'q', sessionId: 'q-session' });
  const heard = (client: ControlClient) => client.received.filter((envelope) => envelope.roomId === 'r').map((envelope) => envelope.data);

  server.broadcast({ roomId: 'r', event: 'voice:activeSpeaker', data: { peerId: 'p' } });
  server.broadcast({ roomId: 'r', to: ['p'], event: 'voice:peerLeft', data: { peerId: 'for-p' } });
  server.broadcast({ roomId: 'r', to: ['q'], event: 'voice:peerLeft', data: { peerId: 'for-q' } });
  await control.waitFor('r', 'p', 'voice:peerLeft', (data) => data.peerId === 'for-p');
  await other.waitFor('r', 'q', 'voice:peerLeft', (data) => data.peerId === 'for-q');
  expect(heard(control)).toContainEqual({ peerId: 'p' });
  expect(heard(control)).not.toContainEqual({ peerId: 'for-q' });
  expect(heard(other)).toEqual([{ peerId: 'p' }, { peerId: 'for-q' }]);

  other.socket.emit('room:unsubscribe', { roomId: 'r' });
  // A malformed one is dropped, not fatal.
  (other.socket.emit as (event: string, payload: unknown) => void)('room:unsubscribe', { roomId: 42 });
  await other.ok('peer.setPermissions', { roomId: 'r', peerId: 'q', permissions: join.permissions });
  server.broadcast({ roomId: 'r', event: 'voice:activeSpeaker', data: { peerId: 'after' } });
  server.broadcast({ roomId: 'r', to: ['q'], event: 'voice:peerLeft', data: { peerId: 'for-q-after' } });
  await control.waitFor('r', 'p', 'voice:activeSpeaker', (data) => data.peerId === 'after');
  await sleep(200);
  expect(heard(other)).toEqual([{ peerId: 'p' }, { peerId: 'for-q' }]);
  expect(other.socket.connected).toBe(true);
  expect(bystander.received).toEqual([]);
  other.close();
  bystander.close();
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
