import { Redis } from 'ioredis';
import { RtpHeader } from 'werift';
import type { JoinResponse, NewConsumer, TransportOptions, VoicePermissions } from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import { MediaTransport } from '../../loadtest/src/client/transport';
import { ControlClient, opusRtpParameters, sessionOf, startTestNode, TEST_SECRET } from '@concord/testkit/src/sfu';
import { eventually, grows, sleep } from '@concord/testkit/src/wait';
import { nodeLinkId } from './node-links';
import { PipeOffers } from './pipe-offer';
import type { SfuNode } from './sfu-node';

/*
 * One room across two workers of each of two SFU nodes, with real media: every participant sends
 * opus over a real WebRTC transport (ICE, DTLS, SRTP) and must receive every other participant's
 * packets, whichever worker and node each sits on. Two nodes in this process, each with its own
 * Redis client under a key prefix of this run's own, as two processes would share one Redis; the
 * test speaks the control protocol to each node as signaling would, placing each peer through the
 * registry. SFU_ROOM_PEERS_PER_ROUTER=1 makes each node spread the room over both of its workers.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `concord-test:room-across:${process.pid}:${Date.now()}:`;
const ROOM = 'across-room';
const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };
const FIRST_SEQUENCE_NUMBER = 1_000;

interface Participant {
  id: string;
  node: SfuNode;
  control: ControlClient;
  ssrc: number;
  producerId: string;
  sender: MediaTransport;
  receiver: MediaTransport;
  joined: JoinResponse;
  /** RTP packets received, by the SSRC of the consumer carrying them. */
  packets: Map<number, number>;
  /** SSRC of the consumer of each other participant's producer, by producer id. */
  consumerSsrcs: Map<string, number>;
  consumerIds: Map<string, string>;
}

let nodeA: SfuNode;
let nodeB: SfuNode;
let controlA: ControlClient;
let controlB: ControlClient;
let registry: RedisRegistry;
const registries: RedisRegistry[] = [];
const transports: MediaTransport[] = [];
const participants: Participant[] = [];
let sending: NodeJS.Timeout | undefined;
let ssrcs = 7_000;

beforeAll(async () => {
  const nodeRegistry = () => {
    const created = new RedisRegistry(REDIS_URL, { keyPrefix: PREFIX });
    registries.push(created);
    return created;
  };
  registry = nodeRegistry();
  ({ node: nodeA } = await startTestNode({ nodeId: 'node-a', workers: 2, roomPeersPerRouter: 1 }, nodeRegistry()));
  ({ node: nodeB } = await startTestNode({ nodeId: 'node-b', workers: 2, roomPeersPerRouter: 1 }, nodeRegistry()));
  controlA = await ControlClient.connect(nodeA.controlUrl);
  controlB = await ControlClient.connect(nodeB.controlUrl);
});

afterAll(async () => {
  clearInterval(sending);
  for (const transport of transports) await transport.close();
  controlA?.close();
  controlB?.close();
  await nodeA?.close();
  await nodeB?.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  for (const created of registries) await created.close();
});

const controlOf = (node: SfuNode) => (node === nodeA ? controlA : controlB);

async function connected(node: SfuNode, peerId: string, options: TransportOptions): Promise<MediaTransport> {
  const transport = await MediaTransport.create({ verifyEvery: 1 });
  transports.push(transport);
  await controlOf(node).room(ROOM, peerId, 'voice:connectTransport', { transportId: options.transportId, dtlsParameters: transport.dtlsParameters });
  await transport.connect(options);
  return transport;
}

/** Placed as signaling places a peer (`exclude`: nodes that refused it), then joined, sending its mic and receiving everything. */
async function arrive(id: string, exclude: string[] = []): Promise<Participant> {
  const placed = await registry.placePeer(ROOM, exclude);
  const node = placed.id === nodeA.id ? nodeA : nodeB;
  const control = controlOf(node);
  const joined: JoinResponse = await control.ok('peer.join', { roomId: ROOM, peerId: id, sessionId: sessionOf(id), displayName: id, permissions: SPEAKER });
  const send = await control.room<TransportOptions>(ROOM, id, 'voice:createTransport', { direction: 'send' });
  const sender = await connected(node, id, send);
  const ssrc = ++ssrcs;
  const { producerId } = await control.room<{ producerId: string }>(ROOM, id, 'voice:produce', {
    transportId: send.transportId,
    kind: 'audio',
    source: 'mic',
    rtpParameters: opusRtpParameters(ssrc),
  });
  const receiver = await connected(node, id, await control.room<TransportOptions>(ROOM, id, 'voice:createTransport', { direction: 'recv' }));
  const participant: Participant = { id, node, control, ssrc, producerId, sender, receiver, joined, packets: new Map(), consumerSsrcs: new Map(), consumerIds: new Map() };
  receiver.onRtp(({ ssrc: from }) => participant.packets.set(from, (participant.packets.get(from) ?? 0) + 1));
  await control.room(ROOM, id, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  participants.push(participant);
  return participant;
}

/** Waits for the participant's consumer of `producerId`, resumes it and notes its SSRC. */
async function consume(participant: Participant, producerId: string): Promise<void> {
  const consumer: NewConsumer = await participant.control.waitFor(ROOM, participant.id, 'voice:newConsumer', (c) => c.producerId === producerId, 10_000);
  participant.consumerSsrcs.set(producerId, consumer.rtpParameters.encodings?.[0]?.ssrc ?? -1);
  participant.consumerIds.set(producerId, consumer.consumerId);
  await participant.control.room(ROOM, participant.id, 'voice:resumeConsumer', { consumerId: consumer.consumerId });
}

/** Every participant sends an opus packet every 20 ms. */
function startSending(): void {
  let sequence = 0;
  sending = setInterval(() => {
    sequence++;
    for (const p of participants) {
      const sequenceNumber = FIRST_SEQUENCE_NUMBER + sequence;
      p.sender.sendRtp(new RtpHeader({ payloadType: 100, ssrc: p.ssrc, sequenceNumber, timestamp: sequenceNumber * 960, marker: false }), Buffer.alloc(60, sequence % 256));
    }
  }, 20);
}

const received = (to: Participant, from: Participant): number => to.packets.get(to.consumerSsrcs.get(from.producerId) ?? -1) ?? 0;

/** Whether `to` receives at least `more` further packets of `from` within a few seconds. */
const flowing = (to: Participant, from: Participant, more = 20): Promise<boolean> => grows(() => received(to, from), more);

const workersCarrying = (node: SfuNode) => node.workers().filter((worker) => worker.roomIds.includes(ROOM)).map((worker) => worker.index);

test('a room on two workers of each of two nodes: everyone receives everyone, and the pipes carry pause, resume, close and leave', async () => {
  // Two on node a (its primary), two on node b: the registry places them there once node a is passed over.
  const a1 = await arrive('a1');
  const a2 = await arrive('a2');
  const b1 = await arrive('b1', [nodeA.id]);
  const b2 = await arrive('b2', [nodeA.id]);
  expect([a1.node, a2.node, b1.node, b2.node].map((node) => node.id)).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);
  expect((await registry.roomNodes(ROOM)).map((node) => node.id)).toEqual(['node-a', 'node-b']);
  // The peers on the other node are peers like any: in the join response, and seen arriving.
  expect(b2.joined.peers.map((peer) => peer.peerId).sort()).toEqual(['a1', 'a2', 'b1']);
  expect(b2.joined.peers.find((peer) => peer.peerId === 'a1')?.producers.map((producer) => producer.producerId)).toEqual([a1.producerId]);
  for (const arriving of ['b1', 'b2']) await controlA.waitFor(ROOM, 'a1', 'voice:peerJoined', (e) => e.peer.peerId === arriving && e.peer.displayName === arriving);
  // One peer per router: each node carries the room on both of its workers.
  expect(workersCarrying(nodeA)).toEqual([0, 1]);
  expect(workersCarrying(nodeB)).toEqual([0, 1]);

  for (const to of participants) for (const from of participants) if (from !== to) await consume(to, from.producerId);
  startSending();
  for (const to of participants) {
    for (const from of participants) {
      if (from === to) continue;
      expect({ to: to.id, from: from.id, flowing: await flowing(to, from) }).toEqual({ to: to.id, from: from.id, flowing: true });
    }
  }
  // Nothing is copied twice: each consumer's packets came from its one producer (SRTP authenticated, in order).
  for (const p of participants) expect(p.receiver.counters.verifyFailures).toBe(0);

  // Pause on node a reaches node b's consumer (and media stops), resume brings it back.
  await a1.control.room(ROOM, 'a1', 'voice:pauseProducer', { producerId: a1.producerId });
  const ids = { consumerId: b1.consumerIds.get(a1.producerId)!, producerId: a1.producerId };
  expect(await controlB.waitFor(ROOM, 'b1', 'voice:consumerPaused', (e) => e.consumerId === ids.consumerId)).toEqual(ids);
  await sleep(200);
  expect(await flowing(b1, a1, 5)).toBe(false);
  await a1.control.room(ROOM, 'a1', 'voice:resumeProducer', { producerId: a1.producerId });
  expect(await controlB.waitFor(ROOM, 'b1', 'voice:consumerResumed', (e) => e.consumerId === ids.consumerId)).toEqual(ids);
  expect(await flowing(b1, a1)).toBe(true);

  // Node b's pipe into node a answers to node b alone: another node of the deployment (it holds the
  // secret) and a signaling connection are refused when they name it, and it carries on.
  const nodeC = await ControlClient.connect(nodeA.controlUrl, TEST_SECRET, nodeLinkId('node-c'));
  try {
    const ref = { roomId: ROOM, fromNodeId: nodeB.id };
    for (const connection of [nodeC, controlA]) {
      for (const [name, data] of [
        ['pipe.close', ref],
        ['pipe.producerState', { ...ref, producerId: b1.producerId, state: 'closed' }],
        ['pipe.peer', { ...ref, peerId: 'b1' }],
      ] as const) {
        expect(await connection.send(name, data)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      }
    }
  } finally {
    nodeC.close();
  }
  expect(await flowing(a1, b1)).toBe(true);
  expect(controlA.received.filter((e) => e.event === 'voice:peerLeft')).toEqual([]);

  // Pause on node b reaches node a.
  await b2.control.room(ROOM, 'b2', 'voice:pauseProducer', { producerId: b2.producerId });
  await controlA.waitFor(ROOM, 'a2', 'voice:consumerPaused', (e) => e.producerId === b2.producerId);

  // Producer close on node b: node a's consumers of it close.
  await b2.control.room(ROOM, 'b2', 'voice:closeProducer', { producerId: b2.producerId });
  await controlA.waitFor(ROOM, 'a1', 'voice:consumerClosed', (e) => e.producerId === b2.producerId);
  await controlA.waitFor(ROOM, 'a2', 'voice:consumerClosed', (e) => e.producerId === b2.producerId);

  // Leaving node a: node b's consumers of the leaver close; the rest still flows.
  await controlA.ok('peer.leave', { roomId: ROOM, peerId: 'a2', sessionId: sessionOf('a2') });
  await controlB.waitFor(ROOM, 'b1', 'voice:consumerClosed', (e) => e.producerId === a2.producerId);
  await controlB.waitFor(ROOM, 'b1', 'voice:peerLeft', (e) => e.peerId === 'a2');
  expect(await flowing(b1, a1)).toBe(true);
  expect(await flowing(a1, b1)).toBe(true);

  // The last peer leaving node a closes the room there and tears the pipe down: node b's consumers of it close, b's room carries on.
  await controlA.ok('peer.leave', { roomId: ROOM, peerId: 'a1', sessionId: sessionOf('a1') });
  await controlB.waitFor(ROOM, 'b1', 'voice:consumerClosed', (e) => e.producerId === a1.producerId);
  await controlB.waitFor(ROOM, 'b1', 'voice:peerLeft', (e) => e.peerId === 'a1');
  await eventually(async () => workersCarrying(nodeA).length === 0);
  expect((await registry.roomNodes(ROOM)).map((node) => node.id)).toEqual(['node-b']);
  expect(workersCarrying(nodeB)).toEqual([0, 1]);
  // b2 still hears b1 across b's two workers.
  expect(await flowing(b2, b1)).toBe(true);
}, 60_000);

test('a forged, misdirected, stale or replayed pipe offer is refused', async () => {
  const endpoint = { ip: '127.0.0.1', port: 9, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM' as const, keyBase64: Buffer.alloc(44).toString('base64') } };
  const refusal = async (offer: unknown) => {
    const result = await controlA.send('pipe.open', offer);
    return result.ok ? 'accepted' : `${result.error.code}: ${result.error.message}`;
  };
  const genuine = new PipeOffers(TEST_SECRET, nodeB.id);
  // Signed with another secret: not a node of this deployment.
  const forged = new PipeOffers('not-the-deployment-secret', nodeB.id).sign(ROOM, nodeA.id, endpoint);
  expect(await refusal(forged)).toMatch(/^FORBIDDEN: .*signature/);
  // Tampered with after signing: sends node a's media elsewhere.
  const offer = genuine.sign(ROOM, nodeA.id, endpoint);
  expect(await refusal({ ...offer, endpoint: { ...endpoint, ip: '127.0.0.2' } })).toMatch(/^FORBIDDEN: .*signature/);
  // For another node.
  expect(await refusal(genuine.sign(ROOM, 'node-c', endpoint))).toMatch(/^FORBIDDEN: .*another node/);
  // Stale.
  const old = new PipeOffers(TEST_SECRET, nodeB.id, () => Date.now() - 120_000).sign(ROOM, nodeA.id, endpoint);
  expect(await refusal(old)).toMatch(/^FORBIDDEN: .*too old/);
  // Genuine and fresh, but from a node id the registry does not know: refused, and its nonce spent.
  await controlA.ok('peer.join', { roomId: 'offer-room', peerId: 'x', sessionId: sessionOf('x'), displayName: 'x', permissions: SPEAKER });
  const toRoom = new PipeOffers(TEST_SECRET, 'intruder').sign('offer-room', nodeA.id, endpoint);
  expect(await refusal(toRoom)).toMatch(/^FORBIDDEN: .*not a live SFU node/);
  // Replayed.
  expect(await refusal(toRoom)).toMatch(/^FORBIDDEN: .*used before/);
  // Node b's own, genuine and fresh, but sent over another connection than node b's: refused.
  expect(await refusal(genuine.sign('offer-room', nodeA.id, endpoint))).toMatch(/^FORBIDDEN: .*came over test-signaling/);
  // Garbage is a bad request, not a crash.
  expect(await refusal({ roomId: ROOM })).toMatch(/^BAD_REQUEST/);
  await controlA.ok('peer.leave', { roomId: 'offer-room', peerId: 'x', sessionId: sessionOf('x') });
});
