import type { SfuNodeInfo } from '@concord/protocol';
import { Redis } from 'ioredis';
import { pickNodeFromEntries, type NodeEntry } from './placement';
import { RedisRegistry } from './redis';

/*
 * The placement rule exists twice: in TypeScript (placement.ts, used by the in-process registry)
 * and in Lua (redis.ts, run inside Redis to be atomic with the claim). This table runs every case
 * through both — the Lua in a real Redis — so the two cannot drift apart. Entries are raw JSON as a
 * node announced it, garbage included: a garbage entry is never chosen and never fails placement.
 */

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let registry: RedisRegistry;

beforeAll(() => {
  registry = new RedisRegistry(redisUrl, { keyPrefix: `concord-test:placement:${process.pid}:${Date.now()}:` });
});
afterAll(() => registry.close());

function info(id: string, streams: number, extra: Partial<SfuNodeInfo> = {}): SfuNodeInfo {
  return {
    id,
    controlUrl: `http://127.0.0.1:4443/${id}`,
    capacity: 100,
    load: { workers: 2, routers: 1, transports: 2, producers: Math.floor(streams / 2), consumers: streams - Math.floor(streams / 2) },
    draining: false,
    startedAt: 1_700_000_000_000,
    ...extra,
  };
}

const entry = (node: SfuNodeInfo, rooms = 0): NodeEntry => ({ id: node.id, json: JSON.stringify(node), rooms });
const raw = (id: string, json: string, rooms = 0): NodeEntry => ({ id, json, rooms });

const cases: [string, NodeEntry[], string | undefined][] = [
  ['no nodes: nowhere', [], undefined],
  ['the least-loaded node', [entry(info('a', 30)), entry(info('b', 10)), entry(info('c', 20))], 'b'],
  ['producers and consumers both count', [entry(info('a', 0, { load: { workers: 1, routers: 0, transports: 0, producers: 0, consumers: 9 } })), entry(info('b', 5))], 'b'],
  ['equal load: fewer rooms', [entry(info('a', 10), 3), entry(info('b', 10), 1)], 'b'],
  ['equal load and rooms: the lower id', [entry(info('b', 10), 1), entry(info('a', 10), 1)], 'a'],
  ['ids compare by code unit', [entry(info('b', 1)), entry(info('B', 1))], 'B'],
  ['a node at capacity is passed over', [entry(info('a', 100)), entry(info('b', 99))], 'b'],
  ['every node at capacity: nowhere', [entry(info('a', 100)), entry(info('b', 120))], undefined],
  ['a draining node is passed over', [entry(info('a', 0, { draining: true })), entry(info('b', 50))], 'b'],
  ['not JSON', [raw('x', '{not json'), entry(info('b', 50))], 'b'],
  ['JSON but not an object', [raw('x', '42'), raw('y', '"y"'), entry(info('b', 50))], 'b'],
  ['load missing', [raw('x', JSON.stringify({ ...info('x', 0), load: undefined })), entry(info('b', 50))], 'b'],
  ['load fields of the wrong type', [raw('x', JSON.stringify({ ...info('x', 0), load: { ...info('x', 0).load, producers: '0' } })), entry(info('b', 50))], 'b'],
  ['negative load', [raw('x', JSON.stringify({ ...info('x', 0), load: { ...info('x', 0).load, consumers: -50 } })), entry(info('b', 50))], 'b'],
  ['capacity as a string', [raw('x', JSON.stringify({ ...info('x', 0), capacity: '100' })), entry(info('b', 50))], 'b'],
  ['capacity zero', [raw('x', JSON.stringify({ ...info('x', 0), capacity: 0 })), entry(info('b', 50))], 'b'],
  ['draining not a boolean', [raw('x', JSON.stringify({ ...info('x', 0), draining: 'false' })), entry(info('b', 50))], 'b'],
  ['a control URL that is not one', [raw('x', JSON.stringify({ ...info('x', 0), controlUrl: 'nowhere' })), entry(info('b', 50))], 'b'],
  ['an entry claiming another node’s id', [raw('x', JSON.stringify(info('a', 0))), entry(info('b', 50))], 'b'],
  ['only garbage: nowhere, no crash', [raw('x', 'null'), raw('y', '[]'), raw('z', '{}')], undefined],
];

describe.each(cases)('%s', (_name, entries, expected) => {
  test('TypeScript', () => {
    expect(pickNodeFromEntries(entries)).toBe(expected);
  });
  test('Lua in Redis', async () => {
    expect(await registry.pickNodeInRedis(entries)).toBe(expected);
  });
});

test('placement through the registry skips a node announcing garbage', async () => {
  const prefix = `concord-test:placement-garbage:${process.pid}:${Date.now()}:`;
  const placing = new RedisRegistry(redisUrl, { keyPrefix: prefix });
  const redis = new Redis(redisUrl);
  try {
    await redis.set(`${prefix}node:bad`, JSON.stringify({ ...info('bad', 0), load: { producers: 'lots' } }));
    await redis.sadd(`${prefix}nodes`, 'bad');
    await placing.heartbeat(info('good', 50), 60_000);
    expect((await placing.placePeer('room-1')).id).toBe('good');
    // Only garbage left: refused as UNAVAILABLE, not an internal error.
    await placing.deregister('good');
    await expect(placing.placePeer('room-3')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await placing.close();
  }
});
