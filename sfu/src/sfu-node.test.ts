import type { InProcessRegistry } from '@concord/registry';
import type { JoinResponse, NewConsumer, TransportOptions, VoicePermissions } from '@concord/protocol';
import type { SfuNode } from './sfu-node';
import { ControlClient, FINGERPRINT, opusRtpParameters, sessionOf, startTestNode, vp8RtpParameters } from '@concord/testkit/src/sfu';
import { eventually, sleep } from '@concord/testkit/src/wait';

const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };
const GRACE_MS = 600;

let node: SfuNode;
let registry: InProcessRegistry;
let control: ControlClient;
let ssrcs = 1000;

beforeAll(async () => {
  ({ node, registry } = await startTestNode({ peerGraceMs: GRACE_MS }));
  control = await ControlClient.connect(node.controlUrl);
});

afterAll(async () => {
  control?.close();
  await node?.close();
  await registry?.close();
});

const join = (roomId: string, peerId: string, permissions: VoicePermissions = SPEAKER, sessionId = sessionOf(peerId)): Promise<JoinResponse> =>
  control.ok('peer.join', { roomId, peerId, sessionId, displayName: peerId.toUpperCase(), permissions });

const createTransport = (roomId: string, peerId: string, direction: 'send' | 'recv', sessionId = sessionOf(peerId)) =>
  control.room<TransportOptions>(roomId, peerId, 'voice:createTransport', { direction }, sessionId);

async function produceMic(roomId: string, peerId: string, sessionId = sessionOf(peerId)): Promise<{ transportId: string; producerId: string }> {
  const { transportId } = await createTransport(roomId, peerId, 'send', sessionId);
  const produce = { transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrcs) };
  const { producerId } = await control.room<{ producerId: string }>(roomId, peerId, 'voice:produce', produce, sessionId);
  return { transportId, producerId };
}

/** Recv transport plus the router's capabilities: from then on the peer consumes everything. */
async function receive(roomId: string, peerId: string, joined: JoinResponse): Promise<string> {
  const { transportId } = await createTransport(roomId, peerId, 'recv');
  await control.room(roomId, peerId, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  return transportId;
}

/** A room with peer a producing a mic and peer b receiving it. */
async function roomWithAudio(roomId: string) {
  await join(roomId, 'a');
  const joinedB = await join(roomId, 'b');
  const a = await produceMic(roomId, 'a');
  const recvTransportId = await receive(roomId, 'b', joinedB);
  const consumer: NewConsumer = await control.waitFor(roomId, 'b', 'voice:newConsumer', (c) => c.producerId === a.producerId);
  return { a, recvTransportId, consumer };
}

test('the node registers itself, with its control URL', async () => {
  const live = await registry.liveNodes();
  expect(live.map((info) => info.id)).toEqual([node.id]);
  expect(live[0]).toMatchObject({ controlUrl: node.controlUrl, draining: false, load: { workers: 2 } });
});

test('join answers with the router capabilities and the peers already there', async () => {
  const first = await join('join-room', 'a');
  expect(first.peers).toEqual([]);
  expect(first.permissions).toEqual(SPEAKER);
  const mimeTypes = first.routerRtpCapabilities.codecs?.map((codec) => codec.mimeType);
  expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/VP9', 'video/H264']));

  const second = await join('join-room', 'b');
  expect(second.peers).toEqual([{ peerId: 'a', displayName: 'A', producers: [] }]);
  const joined = control.received.filter((e) => e.roomId === 'join-room' && e.event === 'voice:peerJoined');
  // Only b's join had anyone to tell, and it is told to everyone but b.
  expect(joined).toEqual([{ roomId: 'join-room', except: 'b', event: 'voice:peerJoined', data: { peer: { peerId: 'b', displayName: 'B', producers: [] } } }]);
});

test("a peer's audio reaches the other peer as a paused consumer it can resume", async () => {
  const roomId = 'audio-room';
  const { a, consumer } = await roomWithAudio(roomId);
  expect(consumer).toMatchObject({ peerId: 'a', kind: 'audio', source: 'mic', producerPaused: false });
  expect(consumer.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');
  // Addressed to b alone.
  const envelope = control.received.find((e) => e.event === 'voice:newConsumer' && e.roomId === roomId);
  expect(envelope?.to).toEqual(['b']);
  await control.room(roomId, 'b', 'voice:resumeConsumer', { consumerId: consumer.consumerId });

  // Transports listen on a worker's WebRtcServer: its one port, over UDP and TCP.
  const transport = await createTransport(roomId, 'b', 'recv');
  const workerPorts = node.workers().map((worker) => worker.port);
  expect(transport.iceCandidates.map((candidate) => candidate.protocol).sort()).toEqual(['tcp', 'udp']);
  expect(workerPorts).toContain(transport.iceCandidates[0]?.port);
  expect(transport.iceCandidates.every((candidate) => candidate.address === '127.0.0.1')).toBe(true);
  // That second recv transport replaced the first, and with it b's consumer.
  expect(await control.roomError(roomId, 'b', 'voice:pauseConsumer', { consumerId: consumer.consumerId })).toBe('NOT_FOUND');

  // Late joiners see the producer in the join response.
  const late = await join(roomId, 'c');
  expect(late.peers.find((peer) => peer.peerId === 'a')?.producers).toEqual([
    { producerId: a.producerId, kind: 'audio', source: 'mic', paused: false },
  ]);

  // Producer pause and resume reach the consumer's peer (c, whose consumer is current).
  await receive(roomId, 'c', late);
  const { consumerId } = await control.waitFor(roomId, 'c', 'voice:newConsumer', (c) => c.producerId === a.producerId);
  await control.room(roomId, 'a', 'voice:pauseProducer', { producerId: a.producerId });
  await control.waitFor(roomId, 'c', 'voice:consumerPaused', (e) => e.consumerId === consumerId);
  await control.room(roomId, 'a', 'voice:resumeProducer', { producerId: a.producerId });
  await control.waitFor(roomId, 'c', 'voice:consumerResumed', (e) => e.consumerId === consumerId);

  // The registry sees the streams.
  await eventually(async () => {
    const load = (await registry.liveNodes())[0]?.load;
    return (load?.producers ?? 0) >= 1 && (load?.consumers ?? 0) >= 1 && (load?.transports ?? 0) >= 2;
  });

  await control.room(roomId, 'a', 'voice:closeProducer', { producerId: a.producerId });
  await control.waitFor(roomId, 'c', 'voice:consumerClosed', (e) => e.consumerId === consumerId);
});

test('a peer consumes producers created after its capabilities were set', async () => {
  const roomId = 'later-room';
  await join(roomId, 'a');
  await receive(roomId, 'b', await join(roomId, 'b'));
  const { producerId } = await produceMic(roomId, 'a');
  await control.waitFor(roomId, 'b', 'voice:newConsumer', (c) => c.producerId === producerId);
  expect(control.eventsFor(roomId, 'a', 'voice:newConsumer')).toEqual([]);
});

describe('refusals', () => {
  const roomId = 'refusal-room';
  let aSend: string;
  let aProducer: string;
  let bRecv: string;
  let bConsumer: string;

  beforeAll(async () => {
    const { a, recvTransportId, consumer } = await roomWithAudio(roomId);
    aSend = a.transportId;
    aProducer = a.producerId;
    bRecv = recvTransportId;
    bConsumer = consumer.consumerId;
  });

  const request = (peerId: string, name: string, data: unknown) => control.roomError(roomId, peerId, name, data);

  test('video without the video permission is FORBIDDEN', async () => {
    const data = { transportId: aSend, kind: 'video', source: 'camera', rtpParameters: vp8RtpParameters(++ssrcs) };
    expect(await request('a', 'voice:produce', data)).toBe('FORBIDDEN');
  });

  test('a kind that does not match the source is BAD_REQUEST', async () => {
    const data = { transportId: aSend, kind: 'video', source: 'mic', rtpParameters: vp8RtpParameters(++ssrcs) };
    expect(await request('a', 'voice:produce', data)).toBe('BAD_REQUEST');
  });

  test('a second producer of the same source is OUT_OF_ORDER', async () => {
    const data = { transportId: aSend, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrcs) };
    expect(await request('a', 'voice:produce', data)).toBe('OUT_OF_ORDER');
  });

  test("another peer's transport, producer and consumer are NOT_FOUND", async () => {
    expect(await request('b', 'voice:connectTransport', { transportId: aSend, dtlsParameters: { fingerprints: [FINGERPRINT] } })).toBe('NOT_FOUND');
    expect(await request('b', 'voice:restartIce', { transportId: aSend })).toBe('NOT_FOUND');
    expect(await request('b', 'voice:pauseProducer', { producerId: aProducer })).toBe('NOT_FOUND');
    expect(await request('b', 'voice:closeProducer', { producerId: aProducer })).toBe('NOT_FOUND');
    expect(await request('a', 'voice:resumeConsumer', { consumerId: bConsumer })).toBe('NOT_FOUND');
    expect(await request('a', 'voice:pauseConsumer', { consumerId: 'no-such-consumer' })).toBe('NOT_FOUND');
  });

  test('requests at the wrong time are OUT_OF_ORDER', async () => {
    await join(roomId, 'fresh');
    const caps = { rtpCapabilities: { codecs: [] } };
    expect(await request('fresh', 'voice:setRtpCapabilities', caps)).toBe('OUT_OF_ORDER');
    const data = { transportId: bRecv, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrcs) };
    expect(await request('b', 'voice:produce', data)).toBe('OUT_OF_ORDER');
  });

  test('requests before join are NOT_IN_ROOM', async () => {
    expect(await request('stranger', 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    expect(await control.roomError('no-room', 'a', 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    expect(await control.errorCode('peer.setPermissions', { roomId, peerId: 'stranger', permissions: SPEAKER })).toBe('NOT_IN_ROOM');
  });

  test('malformed payloads are BAD_REQUEST, naming the field', async () => {
    const result = await control.send('peer.request', { roomId, peerId: 'a', sessionId: sessionOf('a'), name: 'voice:createTransport', data: { direction: 'sideways' } });
    expect(result).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining('direction') } });
    expect(await control.errorCode('peer.join', { roomId, peerId: 'x' })).toBe('BAD_REQUEST');
    expect(await control.errorCode('peer.join', 'not an object')).toBe('BAD_REQUEST');
    expect(await request('a', 'voice:selfDestruct', {})).toBe('BAD_REQUEST');
    expect(await request('a', 'voice:produce', { transportId: aSend, kind: 'audio', source: 'mic', rtpParameters: { codecs: [] } })).toBe('BAD_REQUEST');
  });

  test("parameters mediasoup rejects are BAD_REQUEST, not INTERNAL", async () => {
    const badFingerprint = { transportId: aSend, dtlsParameters: { fingerprints: [{ ...FINGERPRINT, algorithm: 'md5' }] } };
    expect(await request('a', 'voice:connectTransport', badFingerprint)).toBe('BAD_REQUEST');
    const unknownCodec = opusRtpParameters(++ssrcs);
    unknownCodec.codecs[0]!.mimeType = 'audio/nonsense';
    await join(roomId, 'codec', SPEAKER);
    const { transportId } = await createTransport(roomId, 'codec', 'send');
    const data = { transportId, kind: 'audio', source: 'mic', rtpParameters: unknownCodec };
    expect(await request('codec', 'voice:produce', data)).toBe('BAD_REQUEST');
  });

  test('a valid connect and an ICE restart succeed', async () => {
    await control.room(roomId, 'a', 'voice:connectTransport', { transportId: aSend, dtlsParameters: { role: 'client', fingerprints: [FINGERPRINT] } });
    const { iceParameters } = await control.room<{ iceParameters: { usernameFragment: string } }>(roomId, 'a', 'voice:restartIce', { transportId: aSend });
    expect(iceParameters.usernameFragment).toEqual(expect.any(String));
  });

  test('a request without an ack is carried out and harms nothing', async () => {
    const silent = { roomId, peerId: 'silent', sessionId: sessionOf('silent'), displayName: 'S', permissions: SPEAKER };
    (control.socket.emit as (name: string, payload: unknown) => void)('peer.join', silent);
    await control.waitFor(roomId, 'a', 'voice:peerJoined', (e) => e.peer.peerId === 'silent');
    (control.socket.emit as (name: string) => void)('peer.leave');
    expect((await join(roomId, 'silent')).peerId).toBe('silent');
  });
});

test('revoking speak closes the audio producer and its consumers', async () => {
  const roomId = 'revoke-room';
  const { a, consumer } = await roomWithAudio(roomId);
  const { closedProducerIds } = await control.ok('peer.setPermissions', { roomId, peerId: 'a', permissions: { ...SPEAKER, speak: false } });
  expect(closedProducerIds).toEqual([a.producerId]);
  expect(await control.waitFor(roomId, 'a', 'voice:producerClosed')).toEqual({ producerId: a.producerId, reason: 'permission revoked' });
  expect((await control.waitFor(roomId, 'a', 'voice:permissionsChanged')).permissions.speak).toBe(false);
  await control.waitFor(roomId, 'b', 'voice:consumerClosed', (e) => e.consumerId === consumer.consumerId);
  const data = { transportId: a.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(++ssrcs) };
  expect(await control.roomError(roomId, 'a', 'voice:produce', data)).toBe('FORBIDDEN');
});

test('a disconnected peer keeps its identity within the grace period and leaves after it', async () => {
  const roomId = 'grace-room';
  const { a } = await roomWithAudio(roomId);
  await control.ok('peer.disconnect', { roomId, peerId: 'a', sessionId: sessionOf('a') });
  // Its media is gone at once.
  await control.waitFor(roomId, 'b', 'voice:consumerClosed', (e) => e.producerId === a.producerId);
  expect(await control.roomError(roomId, 'a', 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');

  const rejoined = await join(roomId, 'a');
  expect(rejoined.peers.map((peer) => peer.peerId)).toEqual(['b']);
  await sleep(GRACE_MS + 200);
  // a's first join found an empty room: b never hears that a joined, not even on the rejoin.
  expect(control.eventsFor(roomId, 'b', 'voice:peerJoined')).toEqual([]);
  expect(control.eventsFor(roomId, 'b', 'voice:peerLeft')).toEqual([]);

  await control.ok('peer.disconnect', { roomId, peerId: 'a', sessionId: sessionOf('a') });
  expect(await control.waitFor(roomId, 'b', 'voice:peerLeft', undefined, GRACE_MS + 2_000)).toEqual({ peerId: 'a' });
});

describe('sessions', () => {
  test("a join from another session takes the peer over: the old session's media goes at once and it alone is told", async () => {
    const roomId = 'takeover-room';
    const { a, consumer } = await roomWithAudio(roomId);
    // A repeated join of the same session keeps its media.
    await join(roomId, 'a');
    await control.room(roomId, 'a', 'voice:pauseProducer', { producerId: a.producerId });

    const rejoined = await join(roomId, 'a', SPEAKER, 'a-new-tab');
    expect(rejoined.peers.map((peer) => peer.peerId)).toEqual(['b']);
    // b hears the old session's mic go now, not once the new session sets up media of its own.
    await control.waitFor(roomId, 'b', 'voice:consumerClosed', (e) => e.consumerId === consumer.consumerId);
    expect(await control.waitFor(roomId, { session: sessionOf('a') }, 'voice:roomClosed')).toEqual({ roomId, reason: 'joined from another session' });
    // Addressed to that session alone: not to the peer, which the new session holds, nor to the room.
    const closings = control.received.filter((envelope) => envelope.roomId === roomId && envelope.event === 'voice:roomClosed');
    expect(closings).toEqual([expect.objectContaining({ toSession: sessionOf('a') })]);
    expect(closings[0]).not.toHaveProperty('to');
    expect(closings[0]).not.toHaveProperty('except');

    // The new session carries on, and b sees no one leave or arrive.
    const again = await produceMic(roomId, 'a', 'a-new-tab');
    await control.waitFor(roomId, 'b', 'voice:newConsumer', (c) => c.producerId === again.producerId);
    expect(control.eventsFor(roomId, 'b', 'voice:peerJoined')).toEqual([]);
    expect(control.eventsFor(roomId, 'b', 'voice:peerLeft')).toEqual([]);
  });

  test('a replaced session speaks for the peer no more: its requests are refused, its disconnect and leave do nothing', async () => {
    const roomId = 'stale-room';
    await roomWithAudio(roomId);
    await join(roomId, 'a', SPEAKER, 'a-new-tab');
    const staleRequest = { roomId, peerId: 'a', sessionId: sessionOf('a'), name: 'voice:createTransport', data: { direction: 'send' } };
    expect(await control.send('peer.request', staleRequest)).toEqual({ ok: false, error: { code: 'NOT_IN_ROOM', message: 'replaced by another session' } });
    await control.ok('peer.disconnect', { roomId, peerId: 'a', sessionId: sessionOf('a') });
    await control.ok('peer.leave', { roomId, peerId: 'a', sessionId: sessionOf('a') });

    // Past the grace period the peer is still there, and the new session's.
    await sleep(GRACE_MS + 200);
    expect(control.eventsFor(roomId, 'b', 'voice:peerLeft')).toEqual([]);
    const { producerId } = await produceMic(roomId, 'a', 'a-new-tab');
    await control.waitFor(roomId, 'b', 'voice:newConsumer', (c) => c.producerId === producerId);
  });

  test('a dropped signaling connection disconnects the peers whose sessions joined through it: media at once, place after the grace period', async () => {
    const roomId = 'lost-connection-room';
    const lost = await ControlClient.connect(node.controlUrl);
    const joinThrough = (peerId: string) =>
      lost.ok('peer.join', { roomId, peerId, sessionId: sessionOf(peerId), displayName: peerId.toUpperCase(), permissions: SPEAKER });
    // a and c join through the connection that will drop; b through ours. A session's requests may
    // come over any connection: it is the one it joined through that reaches its client.
    await joinThrough('a');
    await joinThrough('c');
    await receive(roomId, 'b', await join(roomId, 'b'));
    const { producerId } = await produceMic(roomId, 'a');
    await control.waitFor(roomId, 'b', 'voice:newConsumer', (c) => c.producerId === producerId);
    // c's user has moved on to a session reached through our connection.
    await join(roomId, 'c', SPEAKER, 'c-elsewhere');

    lost.close();
    const droppedAt = Date.now();
    await control.waitFor(roomId, 'b', 'voice:consumerClosed', (e) => e.producerId === producerId);
    expect(control.eventsFor(roomId, 'b', 'voice:peerLeft')).toEqual([]);
    expect(await control.roomError(roomId, 'a', 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    expect(await control.waitFor(roomId, 'b', 'voice:peerLeft', undefined, GRACE_MS + 2_000)).toEqual({ peerId: 'a' });
    expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    // c is untouched.
    expect(await createTransport(roomId, 'c', 'send', 'c-elsewhere')).toMatchObject({ direction: 'send' });
    expect(control.eventsFor(roomId, 'b', 'voice:peerLeft')).toEqual([{ peerId: 'a' }]);
  });

  test('a connection lost while its join opens the room still disconnects the peer it admitted', async () => {
    const roomId = 'lost-while-opening-room';
    const lost = await ControlClient.connect(node.controlUrl);
    // Cut without a goodbye as soon as the join is out: the node learns of the loss while it is
    // still creating the room's router. (A polite disconnect would get the join dropped unread.)
    const request = { roomId, peerId: 'a', sessionId: sessionOf('a'), displayName: 'A', permissions: SPEAKER };
    (lost.socket.emit as (name: string, payload: unknown) => void)('peer.join', request);
    await new Promise<void>((resolve) => lost.socket.io.engine.once('drain', () => resolve()));
    lost.socket.io.engine.close();

    expect((await join(roomId, 'b')).peers.map((peer) => peer.peerId)).toEqual(['a']);
    expect(await control.waitFor(roomId, 'b', 'voice:peerLeft', undefined, GRACE_MS + 2_000)).toEqual({ peerId: 'a' });
  });
});

test('a room that empties closes and is released in the registry', async () => {
  const roomId = 'empty-room';
  expect((await registry.placePeer(roomId)).id).toBe(node.id);
  await join(roomId, 'a');
  await join(roomId, 'b');
  await control.ok('peer.leave', { roomId, peerId: 'a', sessionId: sessionOf('a') });
  expect(await control.waitFor(roomId, 'b', 'voice:peerLeft')).toEqual({ peerId: 'a' });
  expect(await registry.roomNode(roomId)).not.toBeNull();
  await control.ok('peer.leave', { roomId, peerId: 'b', sessionId: sessionOf('b') });
  await eventually(async () => (await registry.roomNode(roomId)) === null);
  // Leaving twice is harmless.
  await control.ok('peer.leave', { roomId, peerId: 'b', sessionId: sessionOf('b') });
});

test('a draining node takes no new rooms but keeps serving its own', async () => {
  await join('kept-room', 'a');
  await node.drain();
  expect((await registry.liveNodes())[0]?.draining).toBe(true);
  const newRoom = { roomId: 'new-room', peerId: 'a', sessionId: sessionOf('a'), displayName: 'A', permissions: SPEAKER };
  expect(await control.errorCode('peer.join', newRoom)).toBe('UNAVAILABLE');
  expect((await join('kept-room', 'b')).peers.map((peer) => peer.peerId)).toEqual(['a']);
});

test('close deregisters the node and ends its rooms', async () => {
  await node.close();
  expect(await control.waitFor('kept-room', 'b', 'voice:roomClosed')).toEqual({ roomId: 'kept-room', reason: 'node closing' });
  expect(await registry.liveNodes()).toEqual([]);
  await node.close();
});
