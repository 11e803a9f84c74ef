import { createServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import pino from 'pino';
import type { SfuNodeInfo } from '@concord/protocol';
import { InProcessRegistry } from '@concord/registry';
import { freePort } from '@concord/testkit/src/ports';
import { NodeLiveness, probeControlPort, type ProbeResult } from './node-liveness';

const log = pino({ level: 'silent' });
const LOAD = { workers: 1, routers: 0, transports: 0, producers: 0, consumers: 0 };
const nodeAt = (port: number, startedAt = 1): SfuNodeInfo => ({ id: 'sfu-1', controlUrl: `http://127.0.0.1:${port}`, capacity: 100, load: LOAD, draining: false, startedAt });

let listener: Server;
let listening = 0;
beforeAll(async () => {
  listener = createServer((_req, res) => res.end('0{}')) as unknown as Server;
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  listening = (listener.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

test('a probe tells a listening port from a refused one, at once', async () => {
  expect(await probeControlPort(`http://127.0.0.1:${listening}`, 1_000)).toBe('listening');
  const started = Date.now();
  expect(await probeControlPort(`http://127.0.0.1:${await freePort()}`, 1_000)).toBe('refused');
  expect(Date.now() - started).toBeLessThan(500);
  // A dying process may still accept: a connection closed without an answer is no sign of life.
  const dying = createTcpServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
  expect(await probeControlPort(`http://127.0.0.1:${(dying.address() as { port: number }).port}`, 1_000)).toBe('refused');
  await new Promise((resolve) => dying.close(resolve));
});

describe('NodeLiveness', () => {
  async function registryWith(node: SfuNodeInfo): Promise<InProcessRegistry> {
    const registry = new InProcessRegistry();
    await registry.heartbeat(node, 60_000, ['room-1']);
    return registry;
  }
  const liveness = (registry: InProcessRegistry, result?: ProbeResult) =>
    new NodeLiveness(registry, { probeTimeoutMs: 200, ...(result && { probe: async () => result }) }, log);

  test('a node that refuses connections is removed from the registry, with its rooms', async () => {
    const node = nodeAt(await freePort());
    const registry = await registryWith(node);
    const checker = liveness(registry);
    expect(await checker.check(node)).toBe(true);
    expect(await registry.liveNodes()).toEqual([]);
    expect(await registry.roomNode('room-1')).toBeNull();
    expect(checker.probing(node)).toBeUndefined();
  });

  test.each(['listening', 'silent'] as const)('a node that is %s stays: one process losing its connection evicts no one', async (result) => {
    const node = nodeAt(listening);
    const registry = await registryWith(node);
    expect(await liveness(registry, result).check(node)).toBe(false);
    expect((await registry.liveNodes()).map((n) => n.id)).toEqual(['sfu-1']);
    expect((await registry.roomNode('room-1'))?.id).toBe('sfu-1');
  });

  test('a node restarted under the same id is another incarnation: its fresh entry stays', async () => {
    const registry = await registryWith(nodeAt(listening, 2));
    expect(await liveness(registry, 'refused').check(nodeAt(listening, 1))).toBe(true);
    expect((await registry.liveNodes()).map((n) => n.startedAt)).toEqual([2]);
  });

  test('concurrent checks of one node share one probe', async () => {
    let probes = 0;
    const registry = await registryWith(nodeAt(listening));
    const checker = new NodeLiveness(registry, { probeTimeoutMs: 200, probe: async () => (probes++, 'refused') }, log);
    const checks = [checker.check(nodeAt(listening)), checker.check(nodeAt(listening))];
    expect(checker.probing(nodeAt(listening))).toBe(checks[0]);
    // The same id started again is another node as far as probes go.
    expect(checker.probing(nodeAt(listening, 2))).toBeUndefined();
    await Promise.all(checks);
    expect(probes).toBe(1);
  });
});
