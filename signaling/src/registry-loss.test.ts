import { Redis } from 'ioredis';
import type { JoinResponse } from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import type { SfuNode } from '@concord/sfu';
import { ROOM_MOVED_REASON } from '@concord/sfu/src/sfu-node';
import { ThrowawayRedis } from '@concord/testkit/src/redis';
import { startTestNode } from '@concord/testkit/src/sfu';
import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { eventsOf, nextEvent, ok, produceRequest, type ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually } from '@concord/testkit/src/wait';

/*
 * Two real SFU nodes and signaling sharing a registry in a Redis of the test's own, which the test
 * restarts empty in the middle of a call. Rooms must not split: the node carrying a room announces
 * it again, and the next joiner lands there, with the peers already in the call.
 */

const KEY_PREFIX = 'registry-loss-test:';
const ROOM = 'split-guard';

let redis: ThrowawayRedis;
let h: Harness;
let other: { node: SfuNode; registry: RedisRegistry };
let probe: RedisRegistry;
let ssrc = 81_000;

beforeAll(async () => {
  redis = await ThrowawayRedis.start();
  h = await startHarness({ registry: new RedisRegistry(redis.url, { keyPrefix: KEY_PREFIX }), sfu: { nodeId: 'node-a' } });
  other = await startTestNode({ nodeId: 'node-b', peerGraceMs: 500 }, new RedisRegistry(redis.url, { keyPrefix: KEY_PREFIX }));
  probe = new RedisRegistry(redis.url, { keyPrefix: KEY_PREFIX });
});

afterAll(async () => {
  await h?.close();
  await other?.node.close();
  await other?.registry.close();
  await probe?.close();
  await redis?.stop();
});

/** Both nodes are live in the registry (after a restart: both heartbeats reached the new Redis). */
const bothNodesLive = (): Promise<void> => eventually(async () => (await probe.liveNodes().catch(() => [])).length === 2, 10_000);

/** A client that receives: a recv transport and its capabilities, so the SFU consumes for it. */
async function receiving(socket: ClientSocket, joined: JoinResponse): Promise<void> {
  await ok(socket, 'voice:createTransport', { direction: 'recv' });
  await ok(socket, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
}

test('after Redis restarts empty mid-call, the next joiner lands on the node carrying the room, with its peers', async () => {
  await bothNodesLive();
  const { socket: alice } = await h.joinedClient('alice', ROOM);
  const send = await ok(alice, 'voice:createTransport', { direction: 'send' });
  const { producerId: aliceMic } = await ok(alice, 'voice:produce', produceRequest(send.transportId, 'mic', ++ssrc));
  const { socket: bob, joined: bobJoined } = await h.joinedClient('bob', ROOM);
  await receiving(bob, bobJoined);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === aliceMic);
  const host = (await probe.roomNode(ROOM))?.id;
  expect(host).toBeDefined();

  // Redis comes back with nothing: no node, no room. The host now carries streams and the other
  // node none, so a placement that did not know the room would pick the other node.
  await redis.restartEmpty();
  await bothNodesLive();

  const { socket: carol, joined } = await h.joinedClient('carol', ROOM);
  expect((await probe.roomNode(ROOM))?.id).toBe(host);
  expect(joined.peers.map((peer) => peer.peerId).sort()).toEqual(['alice', 'bob']);
  expect(joined.peers.find((peer) => peer.peerId === 'alice')?.producers.map((p) => p.producerId)).toEqual([aliceMic]);
  // Carol hears Alice, and the others see Carol arrive.
  await receiving(carol, joined);
  expect(await nextEvent(carol, 'voice:newConsumer', (c) => c.producerId === aliceMic)).toMatchObject({ peerId: 'alice', kind: 'audio' });
  for (const socket of [alice, bob]) await nextEvent(socket, 'voice:peerJoined', (e) => e.peer.peerId === 'carol');
  // Nobody's call was interrupted.
  for (const socket of [alice, bob, carol]) expect(eventsOf(socket, 'voice:roomClosed')).toEqual([]);
});

test('a room split over two nodes is closed on the one the registry does not name, and its peers rejoin on the other', async () => {
  const room = 'split-heal';
  await bothNodesLive();
  const { socket: erin } = await h.joinedClient('erin', room);
  const first = (await probe.roomNode(room))?.id;
  const second = first === 'node-a' ? 'node-b' : 'node-a';

  // What a registry loss can leave when the other node re-registered first and took a joiner:
  // the registry names the second node while the first still carries the room.
  const raw = new Redis(redis.url);
  await raw.set(`${KEY_PREFIX}room:${room}`, second);
  await raw.srem(`${KEY_PREFIX}node-rooms:${first}`, room);
  await raw.sadd(`${KEY_PREFIX}node-rooms:${second}`, room);
  await raw.srem(`${KEY_PREFIX}room-nodes:${room}`, first!);
  await raw.sadd(`${KEY_PREFIX}room-nodes:${room}`, second);
  await raw.quit();
  const { socket: frank, joined: frankJoined } = await h.joinedClient('frank', room);
  expect(frankJoined.peers).toEqual([]);

  // The first node's next heartbeat finds the room held elsewhere and gives it up.
  expect(await nextEvent(erin, 'voice:roomClosed')).toEqual({ roomId: room, reason: ROOM_MOVED_REASON });
  const rejoined = await ok(erin, 'voice:join', { grant: await h.grantFor('erin', room) });
  expect(rejoined.peers.map((peer) => peer.peerId)).toEqual(['frank']);
  await nextEvent(frank, 'voice:peerJoined', (e) => e.peer.peerId === 'erin');
  expect((await probe.roomNode(room))?.id).toBe(second);
  expect(eventsOf(frank, 'voice:roomClosed')).toEqual([]);
});
