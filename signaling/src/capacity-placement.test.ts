import { Redis } from 'ioredis';
import type { NewConsumer, ProducerSource } from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import type { SfuNode } from '@concord/sfu';
import { startTestNode } from '@concord/testkit/src/sfu';
import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { eventsOf, nextEvent, ok, produceRequest, errorCode, type ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually } from '@concord/testkit/src/wait';

/*
 * SFU_CAPACITY enforced, through signaling: two real SFU nodes sharing a Redis registry (a key
 * prefix of this run's own) with one signaling. The nodes heartbeat rarely, so the registry's view
 * of their load lags (as it does between heartbeats under a burst of joins): a node past its
 * capacity must refuse the peer itself, and signaling must place it on the other node instead of
 * failing the user.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `concord-test:capacity:${process.pid}:${Date.now()}:`;
/** Heartbeats far apart: the registry keeps the load each node announced at start. */
const STALE = { heartbeatIntervalMs: 60_000, heartbeatTtlMs: 120_000 };
const CAMERA_AND_MIC: ProducerSource[] = ['mic', 'camera'];

interface Cluster {
  h: Harness;
  nodeB: SfuNode;
  registries: RedisRegistry[];
}

const clusters: Cluster[] = [];
let ssrcs = 9_000;

async function startCluster(name: string, capacity: number): Promise<Cluster> {
  const keyPrefix = `${PREFIX}${name}:`;
  const registries = [new RedisRegistry(REDIS_URL, { keyPrefix }), new RedisRegistry(REDIS_URL, { keyPrefix })];
  const h = await startHarness({ registry: registries[0], sfu: { nodeId: `${name}-a`, capacity, ...STALE } });
  const { node: nodeB } = await startTestNode({ nodeId: `${name}-b`, capacity, ...STALE }, registries[1]);
  const cluster = { h, nodeB, registries };
  clusters.push(cluster);
  return cluster;
}

afterAll(async () => {
  for (const { h, nodeB, registries } of clusters) {
    await h.close();
    await nodeB.close();
    await registries[1]?.close();
  }
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** The node a transport was created on, told by its ICE candidates' port (each worker of each node has its own). */
function nodeOfPort(cluster: Cluster, port: number | undefined): string {
  for (const node of [cluster.h.node, cluster.nodeB]) if (node.workers().some((worker) => worker.port === port)) return node.id;
  throw new Error(`port ${port} is no node's`);
}

interface Person {
  userId: string;
  socket: ClientSocket;
  nodeId: string;
  producerIds: string[];
}

/** Joins through signaling, sends camera and microphone, and receives. */
async function arrive(cluster: Cluster, userId: string, room: string, sources = CAMERA_AND_MIC): Promise<Person> {
  const { socket, joined } = await cluster.h.joinedClient(userId, room);
  const send = await ok(socket, 'voice:createTransport', { direction: 'send' });
  const recv = await ok(socket, 'voice:createTransport', { direction: 'recv' });
  await ok(socket, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  const producerIds: string[] = [];
  for (const source of sources) producerIds.push((await ok(socket, 'voice:produce', produceRequest(send.transportId, source, ++ssrcs))).producerId);
  const nodeId = nodeOfPort(cluster, send.iceCandidates[0]?.port);
  expect(nodeOfPort(cluster, recv.iceCandidates[0]?.port)).toBe(nodeId);
  return { userId, socket, nodeId, producerIds };
}

/** Everyone ends up with a consumer of each of the others' producers. */
async function expectEveryoneReceivesEveryone(people: Person[]): Promise<void> {
  for (const person of people) {
    const expected = people.filter((other) => other !== person).flatMap((other) => other.producerIds);
    await eventually(async () => {
      const consumed = new Set(eventsOf(person.socket, 'voice:newConsumer').map((c: NewConsumer) => c.producerId));
      return expected.every((producerId) => consumed.has(producerId));
    }, 10_000);
  }
}

test('four people with camera and microphone at SFU_CAPACITY=8 spread over both nodes, and each receives the other three', async () => {
  const cluster = await startCluster('four', 8);
  const room = 'four-room';
  const people: Person[] = [];
  for (const userId of ['ann', 'ben', 'cat', 'dan']) people.push(await arrive(cluster, userId, room));
  // Two of them fill the room's first node (4 producers + 4 consumers = 8 streams); the next two
  // were refused there, though the registry still showed it empty, and went to the other node.
  const [first, second, third, fourth] = people.map((person) => person.nodeId);
  expect(first).toBe(second);
  expect(third).not.toBe(first);
  expect(fourth).toBe(third);
  expect((await cluster.registries[0]!.roomNodes(room)).map((node) => node.id).sort()).toEqual([cluster.h.node.id, cluster.nodeB.id].sort());
  await expectEveryoneReceivesEveryone(people);

  // Both nodes past capacity now: a newcomer is refused, by every node, as UNAVAILABLE.
  const late = await cluster.h.connectClient('eve');
  expect(await errorCode(late, 'voice:join', { grant: await cluster.h.grantFor('eve', 'late-room') })).toBe('UNAVAILABLE');
}, 60_000);

test('a peer admitted to a node that fills up before its first transport is moved to the other node, unnoticed', async () => {
  const cluster = await startCluster('move', 2);
  const room = 'move-room';
  // Both join the room's primary while it is empty.
  const quiet = await cluster.h.joinedClient('quinn', room);
  const loud = await arrive(cluster, 'rita', room);
  const primary = loud.nodeId;
  // Rita's camera and microphone filled it: Quinn's first transport is refused there, and signaling
  // moves Quinn's peer to the other node, which answers instead.
  const recv = await ok(quiet.socket, 'voice:createTransport', { direction: 'recv' });
  expect(nodeOfPort(cluster, recv.iceCandidates[0]?.port)).not.toBe(primary);
  await ok(quiet.socket, 'voice:setRtpCapabilities', { rtpCapabilities: quiet.joined.routerRtpCapabilities });
  // Rita's media reaches Quinn over the pipe between the nodes.
  for (const producerId of loud.producerIds) await nextEvent(quiet.socket, 'voice:newConsumer', (c) => c.producerId === producerId, 10_000);
  expect(eventsOf(quiet.socket, 'voice:roomClosed')).toEqual([]);
}, 60_000);
