import { ProtocolError, type SfuNodeInfo } from '@concord/protocol';
import { Redis } from 'ioredis';
import { InProcessRegistry } from './in-process';
import { RedisRegistry } from './redis';
import type { RoomRegistry } from './registry';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Every test gets its own key prefix under this run's, so runs and tests never see each other's keys.
const runPrefix = `concord-test:${process.pid}:${Date.now()}:`;
let prefixes = 0;
const freshPrefix = () => `${runPrefix}${++prefixes}:`;

const LONG_TTL = 60_000;
const SHORT_TTL = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node carrying `streams` streams (all counted by loadScore as producers). */
function node(id: string, streams = 0, extra: Partial<SfuNodeInfo> = {}): SfuNodeInfo {
  return {
    id,
    controlUrl: `http://127.0.0.1:4443/${id}`,
    capacity: 100,
    load: { workers: 1, routers: 0, transports: 0, producers: streams, consumers: 0 },
    draining: false,
    startedAt: 1_700_000_000_000,
    ...extra,
  };
}

const ids = (nodes: SfuNodeInfo[]) => nodes.map((n) => n.id).sort();
const placedOn = async (registry: RoomRegistry, roomId: string) => (await registry.placePeer(roomId)).id;

afterAll(async () => {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${runPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.each<[string, () => RoomRegistry]>([
  ['InProcessRegistry', () => new InProcessRegistry()],
  ['RedisRegistry', () => new RedisRegistry(redisUrl, { keyPrefix: freshPrefix() })],
])('%s', (_name, create) => {
  let registry: RoomRegistry;
  beforeEach(() => {
    registry = create();
  });
  afterEach(() => registry.close());

  test('a heartbeat publishes a node and the next one refreshes it', async () => {
    expect(await registry.liveNodes()).toEqual([]);
    await registry.heartbeat(node('a'), LONG_TTL);
    await registry.heartbeat(node('b'), LONG_TTL);
    await registry.heartbeat(node('a', 7), LONG_TTL);
    const live = await registry.liveNodes();
    expect(ids(live)).toEqual(['a', 'b']);
    expect(live.find((n) => n.id === 'a')).toEqual(node('a', 7));
  });

  test('a heartbeat keeps a node alive past its previous ttl', async () => {
    await registry.heartbeat(node('a'), 400);
    await sleep(200);
    await registry.heartbeat(node('a'), 400);
    await sleep(300);
    expect(ids(await registry.liveNodes())).toEqual(['a']);
  });

  test('a node whose heartbeat lapses drops out and its rooms move to another node', async () => {
    await registry.heartbeat(node('a', 0), SHORT_TTL);
    await registry.heartbeat(node('b', 50), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    await sleep(SHORT_TTL + 100);
    expect(ids(await registry.liveNodes())).toEqual(['b']);
    expect(await registry.roomNode('room-1')).toBeNull();
    expect(await placedOn(registry, 'room-1')).toBe('b');
    expect((await registry.roomNode('room-1'))?.id).toBe('b');
  });

  test('a room goes to the least-loaded node', async () => {
    await registry.heartbeat(node('a', 30), LONG_TTL);
    await registry.heartbeat(node('b', 10), LONG_TTL);
    await registry.heartbeat(node('c', 20), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('b');
  });

  test('consumers count towards load like producers', async () => {
    await registry.heartbeat(node('a', 0, { load: { workers: 1, routers: 1, transports: 2, producers: 1, consumers: 9 } }), LONG_TTL);
    await registry.heartbeat(node('b', 5), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('b');
  });

  test('equal load goes to the node with fewer rooms, then the lower id', async () => {
    await registry.heartbeat(node('b'), LONG_TTL);
    await registry.heartbeat(node('a'), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    expect(await placedOn(registry, 'room-2')).toBe('b');
    expect(await placedOn(registry, 'room-3')).toBe('a');
  });

  test('a full node is skipped and with every node full placement is UNAVAILABLE', async () => {
    await registry.heartbeat(node('a', 10, { capacity: 10 }), LONG_TTL);
    await registry.heartbeat(node('b', 50, { capacity: 100 }), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('b');
    await registry.heartbeat(node('b', 100, { capacity: 100 }), LONG_TTL);
    const failure = registry.placePeer('room-2');
    await expect(failure).rejects.toBeInstanceOf(ProtocolError);
    await expect(failure).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await registry.roomNode('room-2')).toBeNull();
  });

  test('with no nodes placement is UNAVAILABLE', async () => {
    await expect(registry.placePeer('room-1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  test('a draining node takes no new rooms or peers but keeps the rooms it holds', async () => {
    await registry.heartbeat(node('a', 0), LONG_TTL);
    await registry.heartbeat(node('b', 50), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    await registry.heartbeat(node('a', 0, { draining: true }), LONG_TTL);
    expect(await placedOn(registry, 'room-2')).toBe('b');
    // Room 1's next peer continues it on b; a stays its primary until its own peers have moved.
    expect(await placedOn(registry, 'room-1')).toBe('b');
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    expect(ids(await registry.roomNodes('room-1'))).toEqual(['a', 'b']);
  });

  test('a placed room stays on its node even when another becomes less loaded', async () => {
    await registry.heartbeat(node('a', 10), LONG_TTL);
    await registry.heartbeat(node('b', 20), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    await registry.heartbeat(node('a', 90), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    expect(await registry.roomNode('room-unplaced')).toBeNull();
  });

  test('releaseRoom frees a claim only for the node holding it', async () => {
    await registry.heartbeat(node('a'), LONG_TTL);
    await registry.heartbeat(node('b'), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    await registry.releaseRoom('room-1', 'b');
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    await registry.releaseRoom('room-1', 'a');
    expect(await registry.roomNode('room-1')).toBeNull();
    // a holds no room any more, so it wins the tie again.
    expect(await placedOn(registry, 'room-2')).toBe('a');
  });

  test('a heartbeat re-announces the rooms its node hosts, so a registry that lost them places them there again', async () => {
    // A fresh registry stands for one that restarted empty while node a carried room-1.
    await registry.heartbeat(node('b', 0), LONG_TTL);
    expect(await registry.heartbeat(node('a', 50), LONG_TTL, ['room-1'])).toEqual([]);
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    // b is idle and would win a free room: room-1 is not free.
    expect(await placedOn(registry, 'room-1')).toBe('a');
    expect(await placedOn(registry, 'room-2')).toBe('b');
    // Re-announcing is idempotent, and a room released there is free again.
    expect(await registry.heartbeat(node('a', 50), LONG_TTL, ['room-1'])).toEqual([]);
    await registry.releaseRoom('room-1', 'a');
    expect(await registry.roomNode('room-1')).toBeNull();
  });

  test('a room another live node holds stays there, and the heartbeat reports it', async () => {
    await registry.heartbeat(node('a'), LONG_TTL);
    await registry.heartbeat(node('b'), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    expect(await registry.heartbeat(node('b'), LONG_TTL, ['room-1', 'room-2'])).toEqual(['room-1']);
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    expect((await registry.roomNode('room-2'))?.id).toBe('b');
  });

  test('a room whose holder lapsed goes to the live node that re-announces it', async () => {
    await registry.heartbeat(node('a', 0), SHORT_TTL);
    await registry.heartbeat(node('b', 50), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    await sleep(SHORT_TTL + 100);
    expect(await registry.heartbeat(node('b', 50), LONG_TTL, ['room-1'])).toEqual([]);
    expect(ids(await registry.liveNodes())).toEqual(['b']);
    expect((await registry.roomNode('room-1'))?.id).toBe('b');
  });

  test('a peer goes to the room\'s primary while it has headroom, then continues the room on another node', async () => {
    await registry.heartbeat(node('a', 10), LONG_TTL);
    await registry.heartbeat(node('b', 20), LONG_TTL);
    await registry.heartbeat(node('c', 30), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('a');
    await registry.heartbeat(node('a', 5), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('a');
    // a is full: the room continues on the least-loaded other node, which now carries it too.
    await registry.heartbeat(node('a', 100), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('b');
    expect(ids(await registry.roomNodes('room-1'))).toEqual(['a', 'b']);
    expect((await registry.roomNodes('room-1'))[0]?.id).toBe('a');
    expect((await registry.roomNode('room-1'))?.id).toBe('a');
    // Nodes already carrying the room come before new ones, even when busier.
    await registry.heartbeat(node('b', 60), LONG_TTL);
    await registry.heartbeat(node('c', 0), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('b');
    // A node that refused the peer for capacity is passed over.
    expect((await registry.placePeer('room-1', ['b'])).id).toBe('c');
    expect(ids(await registry.roomNodes('room-1'))).toEqual(['a', 'b', 'c']);
    // Nowhere with headroom.
    await expect(registry.placePeer('room-1', ['b', 'c'])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  test('a primary leaving a room hands it to another node carrying it; the last one frees it', async () => {
    await registry.heartbeat(node('a', 100), LONG_TTL);
    await registry.heartbeat(node('b', 0), LONG_TTL);
    await registry.heartbeat(node('a', 0), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('a');
    await registry.heartbeat(node('a', 100), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('b');
    await registry.releaseRoom('room-1', 'a');
    expect((await registry.roomNode('room-1'))?.id).toBe('b');
    expect(ids(await registry.roomNodes('room-1'))).toEqual(['b']);
    // b carries it legitimately: its heartbeat reports no split.
    expect(await registry.heartbeat(node('b', 0), LONG_TTL, ['room-1'])).toEqual([]);
    await registry.releaseRoom('room-1', 'b');
    expect(await registry.roomNodes('room-1')).toEqual([]);
    expect(await registry.roomNode('room-1')).toBeNull();
  });

  test('a node carrying a room that lapses drops out of it', async () => {
    await registry.heartbeat(node('a', 100), LONG_TTL);
    await registry.heartbeat(node('b', 0), SHORT_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('b');
    await registry.heartbeat(node('a', 0), LONG_TTL);
    expect((await registry.placePeer('room-1')).id).toBe('b');
    await sleep(SHORT_TTL + 100);
    expect(ids(await registry.roomNodes('room-1'))).toEqual([]);
    expect((await registry.placePeer('room-1')).id).toBe('a');
  });

  test('deregister removes the node and frees its rooms', async () => {
    await registry.heartbeat(node('a', 0), LONG_TTL);
    await registry.heartbeat(node('b', 50), LONG_TTL);
    expect(await placedOn(registry, 'room-1')).toBe('a');
    expect(await placedOn(registry, 'room-2')).toBe('a');
    await registry.deregister('a');
    expect(ids(await registry.liveNodes())).toEqual(['b']);
    expect(await registry.roomNode('room-1')).toBeNull();
    expect(await placedOn(registry, 'room-1')).toBe('b');
    // A restarted node starts empty: its old claims do not come back with it.
    await registry.heartbeat(node('a', 0), LONG_TTL);
    expect(await registry.roomNode('room-2')).toBeNull();
  });
});

describe('RedisRegistry across processes', () => {
  let prefix: string;
  let registries: RedisRegistry[];
  beforeEach(() => {
    prefix = freshPrefix();
    registries = [new RedisRegistry(redisUrl, { keyPrefix: prefix }), new RedisRegistry(redisUrl, { keyPrefix: prefix })];
  });
  afterEach(() => Promise.all(registries.map((r) => r.close())));

  test('two clients racing to place the same rooms agree on every room and spread them evenly', async () => {
    const [first, second] = registries as [RedisRegistry, RedisRegistry];
    await Promise.all(['a', 'b', 'c'].map((id) => first.heartbeat(node(id), LONG_TTL)));
    const rooms = Array.from({ length: 50 }, (_, i) => `room-${i}`);
    const placements = await Promise.all(rooms.map((room) => Promise.all([placedOn(first, room), placedOn(second, room)])));
    for (const [fromFirst, fromSecond] of placements) expect(fromFirst).toBe(fromSecond);
    // Equal load, so each claim goes to the node with fewest rooms: a lost or doubled count would skew this.
    const perNode = new Map<string, number>();
    for (const [nodeId] of placements) perNode.set(nodeId, (perNode.get(nodeId) ?? 0) + 1);
    expect([...perNode.values()].sort()).toEqual([16, 17, 17]);
  });

  test('a claim made through one client is seen and released through the other', async () => {
    const [first, second] = registries as [RedisRegistry, RedisRegistry];
    await first.heartbeat(node('a'), LONG_TTL);
    expect(await placedOn(first, 'room-1')).toBe('a');
    expect((await second.roomNode('room-1'))?.id).toBe('a');
    await second.releaseRoom('room-1', 'a');
    expect(await first.roomNode('room-1')).toBeNull();
  });

  test('a corrupt node entry is skipped, not a crash', async () => {
    const [registry] = registries as [RedisRegistry];
    const raw = new Redis(redisUrl);
    await raw.set(`${prefix}node:bad`, '{not json');
    await raw.set(`${prefix}node:wrong`, JSON.stringify({ ...node('wrong'), load: undefined }));
    await raw.sadd(`${prefix}nodes`, 'bad', 'wrong');
    await raw.quit();
    await registry.heartbeat(node('good', 50), LONG_TTL);
    expect(ids(await registry.liveNodes())).toEqual(['good']);
    expect(await placedOn(registry, 'room-1')).toBe('good');
  });

  test('an unreachable Redis fails calls promptly with UNAVAILABLE', async () => {
    const unreachable = new RedisRegistry('redis://127.0.0.1:1');
    const started = Date.now();
    await expect(unreachable.liveNodes()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(unreachable.placePeer('room-1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(5_000);
    await unreachable.close();
  });
});
