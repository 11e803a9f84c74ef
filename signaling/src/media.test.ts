import type { JoinResponse, Result } from '@concord/protocol';
import { FINGERPRINT } from '@concord/testkit/src/sfu';
import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { eventsOf, nextEvent, ok, produceRequest } from '@concord/testkit/src/voice-client';
import { sleep } from '@concord/testkit/src/wait';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

test('two peers: presence, audio from one to the other, and its pause, resume and close', async () => {
  const room = 'media-room';
  const { socket: bob, joined: bobJoined } = await h.joinedClient('bob', room);
  const { socket: alice, joined: aliceJoined } = await h.joinedClient('alice', room);

  // Each learns of the other: Bob by an event, Alice in her join response.
  expect(await nextEvent(bob, 'voice:peerJoined')).toEqual({ peer: { peerId: 'alice', displayName: 'Alice', producers: [] } });
  expect(aliceJoined.peers).toEqual([{ peerId: 'bob', displayName: 'Bob', producers: [] }]);
  expect(bobJoined.peers).toEqual([]);
  // Nobody is told of their own arrival.
  expect(eventsOf(alice, 'voice:peerJoined')).toEqual([]);

  // Alice sends: a send transport with ICE candidates on the node's ports, then her mic.
  const send = await ok(alice, 'voice:createTransport', { direction: 'send' });
  expect(send).toMatchObject({ direction: 'send', dtlsParameters: { fingerprints: expect.any(Array) } });
  const ports = h.node.workers().map((worker) => worker.port);
  expect(send.iceCandidates.length).toBeGreaterThan(0);
  for (const candidate of send.iceCandidates) expect(ports).toContain(candidate.port);
  const dtlsParameters = { role: 'client' as const, fingerprints: [FINGERPRINT] };
  expect(await ok(alice, 'voice:connectTransport', { transportId: send.transportId, dtlsParameters })).toEqual({});
  const { producerId } = await ok(alice, 'voice:produce', produceRequest(send.transportId, 'mic', 1111));

  // Bob receives: recv transport, then his capabilities; the SFU consumes Alice's mic for him.
  const recv = await ok(bob, 'voice:createTransport', { direction: 'recv' });
  expect(recv.direction).toBe('recv');
  expect(await ok(bob, 'voice:setRtpCapabilities', { rtpCapabilities: bobJoined.routerRtpCapabilities })).toEqual({});
  const consumer = await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === producerId);
  expect(consumer).toMatchObject({ peerId: 'alice', kind: 'audio', source: 'mic', producerPaused: false });
  expect(consumer.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');
  expect(await ok(bob, 'voice:resumeConsumer', { consumerId: consumer.consumerId })).toEqual({});
  // Alice receives nothing of her own.
  expect(eventsOf(alice, 'voice:newConsumer')).toEqual([]);

  const ids = { consumerId: consumer.consumerId, producerId };
  await ok(alice, 'voice:pauseProducer', { producerId });
  expect(await nextEvent(bob, 'voice:consumerPaused')).toEqual(ids);
  await ok(alice, 'voice:resumeProducer', { producerId });
  expect(await nextEvent(bob, 'voice:consumerResumed')).toEqual(ids);
  await ok(alice, 'voice:closeProducer', { producerId });
  expect(await nextEvent(bob, 'voice:consumerClosed')).toEqual(ids);

  // A producer made after Bob set up receiving reaches him too, as it is made.
  const camera = await ok(alice, 'voice:produce', produceRequest(send.transportId, 'camera', 2222));
  expect(await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === camera.producerId)).toMatchObject({
    peerId: 'alice',
    kind: 'video',
    source: 'camera',
  });

  // Leaving is seen at once, and only once.
  expect(await ok(alice, 'voice:leave', {})).toEqual({});
  expect(await nextEvent(bob, 'voice:peerLeft')).toEqual({ peerId: 'alice' });
  expect(await nextEvent(bob, 'voice:consumerClosed', (c) => c.producerId === camera.producerId)).toMatchObject({ producerId: camera.producerId });
  await sleep(100);
  expect(eventsOf(bob, 'voice:peerLeft')).toHaveLength(1);
  expect(eventsOf(bob, 'voice:peerJoined')).toHaveLength(1);
  expect(eventsOf(alice, 'voice:roomClosed')).toEqual([]);
});

test('a peer joining a room with media sees the producers in its join response and receives them', async () => {
  const room = 'media-late';
  const { socket: alice } = await h.joinedClient('alice', room);
  const send = await ok(alice, 'voice:createTransport', { direction: 'send' });
  const { producerId } = await ok(alice, 'voice:produce', { ...produceRequest(send.transportId, 'mic', 3333), paused: true });

  const { socket: carol, joined } = await h.joinedClient('carol', room);
  expect(joined.peers).toEqual([{ peerId: 'alice', displayName: 'Alice', producers: [{ producerId, kind: 'audio', source: 'mic', paused: true }] }]);
  await ok(carol, 'voice:createTransport', { direction: 'recv' });
  await ok(carol, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  expect(await nextEvent(carol, 'voice:newConsumer')).toMatchObject({ producerId, peerId: 'alice', producerPaused: true });
});

test('peers joining at the same moment each learn of the other, and only after their join answer', async () => {
  const ROOMS = 10;
  const users = Array.from({ length: ROOMS * 2 }, (_, i) => ({ userId: `racer${i}`, room: `race-${i % ROOMS}`, other: `racer${(i + ROOMS) % (ROOMS * 2)}` }));
  const sockets = await Promise.all(users.map(({ userId }) => h.connectClient(userId)));
  const grants = await Promise.all(users.map(({ userId, room }) => h.grantFor(userId, room)));

  // Both of a room's peers join at once; each notes how many events it had when its answer came.
  const answers = await Promise.all(
    sockets.map(
      (socket, i) =>
        new Promise<{ joined: JoinResponse; eventsBefore: number }>((resolve, reject) => {
          // A plain ack callback runs as the answer arrives, before any later packet is handled.
          const timed = socket.timeout(5_000);
          type Emit = (name: string, payload: unknown, ack: (err: Error | null, result: Result<JoinResponse>) => void) => void;
          const emit = timed.emit.bind(timed) as unknown as Emit;
          emit('voice:join', { grant: grants[i] }, (err, result) => {
            if (err || !result.ok) return reject(err ?? new Error(result.ok ? '' : result.error.code));
            resolve({ joined: result.data, eventsBefore: eventsOf(socket, 'voice:peerJoined').length });
          });
        }),
    ),
  );
  await sleep(100);
  users.forEach(({ other }, i) => {
    const { joined, eventsBefore } = answers[i]!;
    expect(eventsBefore).toBe(0);
    const told = eventsOf(sockets[i]!, 'voice:peerJoined').map((e) => e.peer.peerId);
    const listed = joined.peers.map((p) => p.peerId);
    // Exactly one of the two ways, exactly once.
    expect([...told, ...listed]).toEqual([other]);
  });
});
