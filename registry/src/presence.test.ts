import { Redis } from 'ioredis';
import type { PresenceChange, PresenceStore } from './presence';
import { InProcessPresenceStore } from './presence-in-process';
import { RedisPresenceStore } from './presence-redis';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Every test gets its own key prefix under this run's, so runs and tests never see each other's keys.
const runPrefix = `concord-test:presence:${process.pid}:${Date.now()}:`;
let prefixes = 0;
const freshPrefix = () => `${runPrefix}${++prefixes}:`;

const LONG_TTL = 60_000;
const SHORT_TTL = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const change = (userId: string, previous: string, current: string): PresenceChange => ({ userId, previous, current }) as PresenceChange;

afterAll(async () => {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${runPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.each<[string, () => PresenceStore[]]>([
  [
    'InProcessPresenceStore',
    () => {
      const store = new InProcessPresenceStore();
      return [store, store];
    },
  ],
  [
    'RedisPresenceStore',
    () => {
      const keyPrefix = freshPrefix();
      // Two clients of one Redis: two signaling instances.
      return [new RedisPresenceStore(redisUrl, { keyPrefix }), new RedisPresenceStore(redisUrl, { keyPrefix })];
    },
  ],
])('%s', (name, create) => {
  let store: PresenceStore;
  let other: PresenceStore;
  beforeEach(async () => {
    [store, other] = create() as [PresenceStore, PresenceStore];
    await store.heartbeat('a', LONG_TTL);
    await store.heartbeat('b', LONG_TTL);
  });
  afterEach(async () => {
    await store.close();
    if (other !== store) await other.close();
  });

  const statuses = async (...userIds: string[]) => Object.fromEntries(await (await store.statusOf(userIds)).entries());

  test('a user is offline until a connection registers, and offline again when it goes', async () => {
    expect(await statuses('alice')).toEqual({ alice: 'offline' });
    expect(await store.connected('alice', 'c1', 'a')).toEqual(change('alice', 'offline', 'online'));
    expect(await statuses('alice', 'bob')).toEqual({ alice: 'online', bob: 'offline' });
    expect(await store.disconnected('alice', 'c1')).toEqual(change('alice', 'online', 'offline'));
    expect(await statuses('alice')).toEqual({ alice: 'offline' });
  });

  test('a user with two connections stays online until both are gone, wherever they are', async () => {
    expect(await store.connected('alice', 'c1', 'a')).toEqual(change('alice', 'offline', 'online'));
    expect(await other.connected('alice', 'c2', 'b')).toEqual(change('alice', 'online', 'online'));
    expect(await store.disconnected('alice', 'c1')).toEqual(change('alice', 'online', 'online'));
    expect(await statuses('alice')).toEqual({ alice: 'online' });
    expect(await other.disconnected('alice', 'c2')).toEqual(change('alice', 'online', 'offline'));
  });

  test('idle only when every connection is idle', async () => {
    await store.connected('alice', 'c1', 'a');
    await store.connected('alice', 'c2', 'b');
    expect(await store.setStatus('alice', 'c1', 'idle')).toEqual(change('alice', 'online', 'online'));
    expect(await store.setStatus('alice', 'c2', 'idle')).toEqual(change('alice', 'online', 'idle'));
    expect(await statuses('alice')).toEqual({ alice: 'idle' });
    expect(await store.disconnected('alice', 'c2')).toEqual(change('alice', 'idle', 'idle'));
    expect(await store.setStatus('alice', 'c1', 'online')).toEqual(change('alice', 'idle', 'online'));
    expect(await store.connected('bob', 'c3', 'a', 'idle')).toEqual(change('bob', 'offline', 'idle'));
  });

  test('unknown connections, and other users’ connections, change nothing', async () => {
    await store.connected('alice', 'c1', 'a');
    expect(await store.disconnected('alice', 'nope')).toEqual(change('alice', 'online', 'online'));
    expect(await store.disconnected('bob', 'c1')).toEqual(change('bob', 'offline', 'offline'));
    expect(await store.setStatus('bob', 'c1', 'idle')).toEqual(change('bob', 'offline', 'offline'));
    expect(await store.setStatus('carol', 'nope', 'idle')).toEqual(change('carol', 'offline', 'offline'));
    expect(await statuses('alice', 'bob', 'carol')).toEqual({ alice: 'online', bob: 'offline', carol: 'offline' });
  });

  test('ids with separators and odd characters are kept apart', async () => {
    await store.connected('a|b:c', 'x|y', 'a');
    await store.connected('a', 'b|c:x|y', 'b');
    expect(await statuses('a|b:c', 'a', 'a|b')).toEqual({ 'a|b:c': 'online', a: 'online', 'a|b': 'offline' });
    expect(await store.disconnected('a|b:c', 'x|y')).toEqual(change('a|b:c', 'online', 'offline'));
    expect(await statuses('a')).toEqual({ a: 'online' });
  });

  test('a heartbeat answers whether the store knew the instance', async () => {
    expect(await store.heartbeat('fresh', LONG_TTL)).toBe(false);
    expect(await other.heartbeat('fresh', LONG_TTL)).toBe(true);
  });

  test('dropping an instance takes its connections only, and reports each transition', async () => {
    await store.connected('alice', 'c1', 'a');
    await store.connected('alice', 'c2', 'b');
    await store.connected('bob', 'c3', 'a');
    await store.connected('carol', 'c4', 'a');
    await store.setStatus('carol', 'c4', 'idle');
    expect(sorted(await store.dropInstance('a'))).toEqual([change('bob', 'online', 'offline'), change('carol', 'idle', 'offline')]);
    expect(await statuses('alice', 'bob', 'carol')).toEqual({ alice: 'online', bob: 'offline', carol: 'offline' });
    expect(await store.dropInstance('a')).toEqual([]);
    // The dropped instance is new to the store again.
    expect(await store.heartbeat('a', LONG_TTL)).toBe(false);
  });

  test('a crashed instance’s connections stop counting when its heartbeat lapses, and one sweep reports them', async () => {
    await store.heartbeat('crashing', SHORT_TTL);
    await store.connected('alice', 'c1', 'crashing');
    await store.connected('bob', 'c2', 'crashing');
    await store.connected('bob', 'c3', 'a');
    expect(await store.sweep()).toEqual([]);
    expect(await statuses('alice', 'bob')).toEqual({ alice: 'online', bob: 'online' });

    await sleep(SHORT_TTL + 100);
    // Offline to readers at once, before anyone sweeps.
    expect(await statuses('alice', 'bob')).toEqual({ alice: 'offline', bob: 'online' });
    // Two instances sweeping at the same time: the transition is reported once.
    const [first, second] = await Promise.all([store.sweep(), other.sweep()]);
    expect([...first, ...second]).toEqual([change('alice', 'online', 'offline')]);
    expect(await store.sweep()).toEqual([]);
    expect(await statuses('alice', 'bob')).toEqual({ alice: 'offline', bob: 'online' });

    // Back after a stall: the store forgot it, so it must register its connections again.
    expect(await store.heartbeat('crashing', LONG_TTL)).toBe(false);
    expect(await statuses('alice')).toEqual({ alice: 'offline' });
  });

  test('a heartbeat keeps an instance live past its previous ttl', async () => {
    await store.heartbeat('steady', 400);
    await store.connected('alice', 'c1', 'steady');
    await sleep(200);
    expect(await store.heartbeat('steady', 400)).toBe(true);
    await sleep(300);
    expect(await store.sweep()).toEqual([]);
    expect(await statuses('alice')).toEqual({ alice: 'online' });
  });

  if (name === 'RedisPresenceStore') {
    test('an unreachable Redis fails calls promptly with UNAVAILABLE', async () => {
      const unreachable = new RedisPresenceStore('redis://127.0.0.1:1');
      const started = Date.now();
      await expect(unreachable.connected('alice', 'c1', 'a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(5_000);
      await unreachable.close();
    });
  }
});

const sorted = (changes: PresenceChange[]) => [...changes].sort((x, y) => (x.userId < y.userId ? -1 : 1));
