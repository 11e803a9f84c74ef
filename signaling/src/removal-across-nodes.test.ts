import { RtpHeader } from 'werift';
import { InProcessRealtimePublisher } from '@concord/api';
import type { NewConsumer, ProducerSource, TransportOptions, VoicePermissions, VoiceRemoval } from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import type { SfuNode } from '@concord/sfu';
import { MediaTransport } from '../../loadtest/src/client/transport';
import { deleteKeys, REDIS_URL } from '@concord/testkit/src/redis';
import { startTestNode } from '@concord/testkit/src/sfu';
import { ALL_PERMISSIONS, startHarness, type Harness } from '@concord/testkit/src/signaling';
import { eventsOf, nextEvent, ok, produceRequest, request, type ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually, grows, sleep } from '@concord/testkit/src/wait';

/*
 * Removals and permission changes in a room that spans two SFU nodes, with real media: one
 * signaling, two real SFU nodes on a Redis registry (a key prefix of this run's own), every
 * participant sending over a real WebRTC transport. Node a's SFU_CAPACITY is small, so the room's
 * third and fourth participants are refused there and continue it on node b (as
 * capacity-placement.test.ts forces it). The API's removals and permission changes go through its
 * in-process publisher into signaling, which must reach the node holding each peer.
 */

const PREFIX = `concord-test:removal-across:${process.pid}:${Date.now()}:`;
const ROOM = 'removal-across-room';
/** Heartbeats far apart: the registry keeps the load each node announced at start, so node a itself must refuse. */
const STALE = { heartbeatIntervalMs: 60_000, heartbeatTtlMs: 120_000 };
/** Ann (mic, camera) and Ben (mic) on node a: 3 producers + 3 consumers fill it. */
const CAPACITY_A = 6;
const NO_VIDEO: VoicePermissions = { ...ALL_PERMISSIONS, video: false };
/** A VP8 payload descriptor (start of partition 0) and a frame tag with the key frame bit: mediasoup forwards video from a key frame on. */
const VP8_KEY_FRAME = Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a]), Buffer.alloc(60, 7)]);

interface Person {
  userId: string;
  socket: ClientSocket;
  node: SfuNode;
  /** Producer id → the SSRC it sends with. */
  producers: Map<string, { ssrc: number; source: ProducerSource }>;
  sender: MediaTransport;
  receiver: MediaTransport;
  /** RTP packets received, by the SSRC of the consumer carrying them. */
  packets: Map<number, number>;
  /** The SSRC of this person's consumer of each producer, by producer id. */
  consumerSsrcs: Map<string, number>;
}

let h: Harness;
let nodeB: SfuNode;
let registryB: RedisRegistry;
let publisher: InProcessRealtimePublisher;
const transports: MediaTransport[] = [];
const people: Person[] = [];
let sending: NodeJS.Timeout | undefined;
let ssrcs = 11_000;

beforeAll(async () => {
  registryB = new RedisRegistry(REDIS_URL, { keyPrefix: PREFIX });
  h = await startHarness({ registry: new RedisRegistry(REDIS_URL, { keyPrefix: PREFIX }), sfu: { nodeId: 'removal-a', capacity: CAPACITY_A, ...STALE } });
  ({ node: nodeB } = await startTestNode({ nodeId: 'removal-b', capacity: 1_000, ...STALE }, registryB));
  publisher = new InProcessRealtimePublisher();
  publisher.attach(h.signaling.realtime);
});

afterAll(async () => {
  clearInterval(sending);
  for (const transport of transports) await transport.close();
  await publisher?.close();
  await h?.close();
  await nodeB?.close();
  await registryB?.close();
  await deleteKeys(PREFIX);
});

/** The node a transport was created on, told by its ICE candidates' port (each worker of each node has its own). */
function nodeOf(options: TransportOptions): SfuNode {
  const port = options.iceCandidates[0]?.port;
  const node = [h.node, nodeB].find((candidate) => candidate.workers().some((worker) => worker.port === port));
  if (!node) throw new Error(`port ${port} is no node's`);
  return node;
}

async function connected(socket: ClientSocket, options: TransportOptions): Promise<MediaTransport> {
  const transport = await MediaTransport.create({ verifyEvery: 1 });
  transports.push(transport);
  await ok(socket, 'voice:connectTransport', { transportId: options.transportId, dtlsParameters: transport.dtlsParameters });
  await transport.connect(options);
  return transport;
}

/** Joins through signaling with real send and receive transports, produces `sources` and resumes every consumer it is given. */
async function arrive(userId: string, sources: ProducerSource[]): Promise<Person> {
  const { socket, joined } = await h.joinedClient(userId, ROOM);
  const send = await ok(socket, 'voice:createTransport', { direction: 'send' });
  const sender = await connected(socket, send);
  const recv = await ok(socket, 'voice:createTransport', { direction: 'recv' });
  const receiver = await connected(socket, recv);
  const person: Person = { userId, socket, node: nodeOf(send), producers: new Map(), sender, receiver, packets: new Map(), consumerSsrcs: new Map() };
  expect(nodeOf(recv)).toBe(person.node);
  receiver.onRtp(({ ssrc }) => person.packets.set(ssrc, (person.packets.get(ssrc) ?? 0) + 1));
  socket.on('voice:newConsumer', (consumer: NewConsumer) => {
    person.consumerSsrcs.set(consumer.producerId, consumer.rtpParameters.encodings?.[0]?.ssrc ?? -1);
    void request(socket, 'voice:resumeConsumer', { consumerId: consumer.consumerId });
  });
  await ok(socket, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  for (const source of sources) {
    const ssrc = ++ssrcs;
    const { producerId } = await ok(socket, 'voice:produce', produceRequest(send.transportId, source, ssrc));
    person.producers.set(producerId, { ssrc, source });
  }
  people.push(person);
  return person;
}

/** Every producer of every participant sends a packet every 20 ms: opus, or a VP8 key frame. */
function startSending(): void {
  let sequence = 0;
  sending = setInterval(() => {
    sequence++;
    for (const person of people) {
      for (const { ssrc, source } of person.producers.values()) {
        const video = source === 'camera';
        const header = new RtpHeader({ payloadType: video ? 101 : 100, ssrc, sequenceNumber: 1_000 + sequence, timestamp: sequence * 960, marker: video });
        person.sender.sendRtp(header, video ? VP8_KEY_FRAME : Buffer.alloc(60, sequence % 256));
      }
    }
  }, 20);
}

const producerOf = (person: Person, source: ProducerSource): string => [...person.producers].find(([, p]) => p.source === source)![0];
const received = (to: Person, producerId: string): number => to.packets.get(to.consumerSsrcs.get(producerId) ?? -1) ?? 0;

/** Whether `to` receives 10 further packets of the producer within a few seconds. */
const flowing = (to: Person, producerId: string): Promise<boolean> => grows(() => received(to, producerId), 10);

/** Whether no further packet of the producer reaches `to` for a while (after those already under way). */
async function stopped(to: Person, producerId: string): Promise<boolean> {
  await sleep(200);
  const since = received(to, producerId);
  await sleep(600);
  return received(to, producerId) === since;
}

/** Whether `person` receives no RTP at all for a while. */
async function receivesNothing(person: Person): Promise<boolean> {
  await sleep(200);
  const before = person.receiver.counters.rtpIn;
  await sleep(600);
  return person.receiver.counters.rtpIn === before;
}

const removal = (userIds: string[]): VoiceRemoval => {
  const at = Date.now();
  return { roomId: ROOM, userIds, reason: 'kicked', at, until: at + 60_000 };
};

test('removals and a revoked permission reach the peers on both nodes carrying the room', async () => {
  const ann = await arrive('ann', ['mic', 'camera']);
  const ben = await arrive('ben', ['mic']);
  // Node a full (3 producers + 3 consumers) before the next arrive; the registry still shows it empty.
  await eventually(async () => h.node.load().consumers === 3, 10_000);
  const cat = await arrive('cat', ['mic', 'camera']);
  const dan = await arrive('dan', ['mic']);
  expect(people.map((person) => person.node.id)).toEqual([h.node.id, h.node.id, nodeB.id, nodeB.id]);

  startSending();
  for (const to of people) {
    for (const from of people) {
      if (from === to) continue;
      for (const producerId of from.producers.keys()) {
        expect({ to: to.userId, producerId, flowing: await flowing(to, producerId) }).toEqual({ to: to.userId, producerId, flowing: true });
      }
    }
  }
  // Fetched before the kick, still within their lifetime.
  const danGrant = await h.grantFor('dan', ROOM);
  const benGrant = await h.grantFor('ben', ROOM);
  const before = { a: h.node.load(), b: nodeB.load() };
  await sleep(2);

  // Dan sits on the room's second node, Ben on its first.
  await publisher.removeFromVoice(removal(['dan', 'ben']));

  for (const removed of [dan, ben]) expect(await nextEvent(removed.socket, 'voice:removed')).toEqual({ roomId: ROOM, reason: 'kicked' });
  for (const [stays, left] of [
    [ann, 'dan'],
    [cat, 'dan'],
    [ann, 'ben'],
    [cat, 'ben'],
  ] as const) {
    await nextEvent(stays.socket, 'voice:peerLeft', (e) => e.peerId === left, 5_000);
  }
  // Their transports and consumers are gone on their nodes: two transports and a producer each, its
  // five consumers of the others' producers (own node's or piped in), and the consumers of the
  // others on its node of its producer and of the other removed one's (piped in).
  await eventually(async () => nodeB.load().transports === before.b.transports - 2 && h.node.load().transports === before.a.transports - 2, 5_000);
  expect(nodeB.load()).toMatchObject({ producers: before.b.producers - 1, consumers: before.b.consumers - 5 - 2 });
  expect(h.node.load()).toMatchObject({ producers: before.a.producers - 1, consumers: before.a.consumers - 5 - 2 });
  // The others no longer receive them, on either node, while they still receive each other.
  for (const stays of [ann, cat]) {
    for (const gone of [dan, ben]) expect({ to: stays.userId, from: gone.userId, stopped: await stopped(stays, producerOf(gone, 'mic')) }).toMatchObject({ stopped: true });
  }
  expect(await flowing(ann, producerOf(cat, 'mic'))).toBe(true);
  expect(await flowing(cat, producerOf(ann, 'camera'))).toBe(true);
  // And they receive nothing more, though they keep sending.
  for (const gone of [dan, ben]) expect({ who: gone.userId, nothing: await receivesNothing(gone) }).toEqual({ who: gone.userId, nothing: true });
  // Their grants from before the removal no longer admit them.
  expect(await request(dan.socket, 'voice:join', { grant: danGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });
  expect(await request(ben.socket, 'voice:join', { grant: benGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });

  // Cat (node b) loses VIDEO: her camera closes, and Ann (node a) stops receiving it across the pipe.
  const catCamera = producerOf(cat, 'camera');
  await publisher.setVoicePermissions('cat', ROOM, NO_VIDEO);
  expect(await nextEvent(cat.socket, 'voice:producerClosed', (e) => e.producerId === catCamera, 5_000)).toEqual({ producerId: catCamera, reason: 'permission revoked' });
  await nextEvent(ann.socket, 'voice:consumerClosed', (e) => e.producerId === catCamera, 5_000);
  expect(await stopped(ann, catCamera)).toBe(true);
  expect(await flowing(ann, producerOf(cat, 'mic'))).toBe(true);
  expect(eventsOf(ann.socket, 'voice:removed')).toEqual([]);
}, 90_000);
