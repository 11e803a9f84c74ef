import { execFileSync } from 'node:child_process';
import { NODE_DRAINING_REASON } from '@concord/protocol';
import { Cluster, failureReporter, type ClusterCall, type ClusterSfu } from '@concord/testkit/src/cluster';
import { eventually, sleep } from '@concord/testkit/src/wait';

/*
 * Failover and drain on a cluster as deployed (API, two SFU nodes, two signaling processes, Redis):
 * a killed node is out of the registry and its calls on the survivor within moments, not after its
 * heartbeat TTL (30 s here, so nothing but the control connection can explain a quick move); a
 * blip of one signaling process's control connection evicts nobody; SIGTERM and POST /drain move
 * every call to the other node and let the drained one exit.
 */

const HEARTBEAT_TTL_MS = 30_000;
/** Generous: the speed claim belongs to the benchmark (bench/failover.ts), on a shared machine. */
const MOVED_WITHIN_MS = 8_000;

let cluster: Cluster;
const { reporting, failed } = failureReporter();
const opened: ClusterCall[] = [];

beforeAll(
  reporting(async () => {
    cluster = await Cluster.start({
      sfuNodes: 2,
      signaling: 2,
      sfuEnv: { SFU_HEARTBEAT_INTERVAL_MS: '500', SFU_HEARTBEAT_TTL_MS: String(HEARTBEAT_TTL_MS), SFU_DRAIN_BATCH: '2', SFU_DRAIN_INTERVAL_MS: '300' },
      signalingEnv: { SFU_REQUEST_TIMEOUT_MS: '5000' },
    });
  }),
  60_000,
);

afterAll(async () => {
  for (const c of opened) c.close();
  await cluster?.stop(failed());
}, 30_000);

/** A connected call of `size` people (the first speaks), alternating between the signaling processes unless told. */
async function call(size: number, signalingOf?: (i: number) => number): Promise<ClusterCall> {
  const started = await cluster.call(size, signalingOf);
  opened.push(started);
  return started;
}

const sfu = (id: string): ClusterSfu => cluster.sfus.find((node) => node.id === id)!;
const other = (id: string): ClusterSfu => cluster.sfus.find((node) => node.id !== id)!;
/** Waits until every member was told the call closed (once more than `before`), then rejoins them all. */
async function rejoinAfterClose(c: ClusterCall, before: number[], reason?: string): Promise<void> {
  await eventually(() => c.closedCount(reason).every((n, i) => n > before[i]!), MOVED_WITHIN_MS, `every member of ${c.roomId} told its call closed`);
  await c.connect();
}

test(
  'SIGKILL of a node: it leaves the registry at once, its calls rejoin on the survivor and carry media, the other calls never notice',
  reporting(async () => {
    const calls = await Promise.all([call(3), call(2), call(2), call(2)]);
    const victim = sfu(calls[0]!.node);
    const lost = calls.filter((c) => c.node === victim.id);
    const kept = calls.filter((c) => c.node !== victim.id);
    const before = lost.map((c) => c.closedCount());

    const killedAt = Date.now();
    victim.process.crash();
    await eventually(async () => !(await cluster.liveNodeIds()).includes(victim.id), MOVED_WITHIN_MS, 'the killed node leaves the registry');
    const evictedMs = Date.now() - killedAt;
    await Promise.all(lost.map((c, i) => rejoinAfterClose(c, before[i]!, 'SFU node unavailable')));
    const movedMs = Date.now() - killedAt;

    for (const c of lost) expect({ roomId: c.roomId, node: c.node }).toEqual({ roomId: c.roomId, node: other(victim.id).id });
    for (const c of kept) expect(c.closedCount()).toEqual(c.members.map(() => 0));
    // Far below the 30 s heartbeat TTL: the control connection told.
    expect(evictedMs).toBeLessThan(HEARTBEAT_TTL_MS / 10);
    expect(movedMs).toBeLessThan(MOVED_WITHIN_MS);
    process.stdout.write(`SIGKILL: out of the registry after ${evictedMs} ms, ${lost.length} calls carrying media on the survivor after ${movedMs} ms\n`);
    await cluster.restart(victim);
  }),
  60_000,
);

test(
  "a blip of one signaling process's control connection evicts no one: the node stays registered and the call comes back on it",
  reporting(async () => {
    // Everyone on signaling-1, so only its connection to the node matters to the call.
    const c = await call(2, () => 0);
    const node = sfu(c.node);
    const before = c.closedCount();
    // Reset signaling's end of its control connections to the node (needs root: ss -K, SOCK_DESTROY).
    execFileSync('ss', ['-K', '-t', 'dst', '127.0.0.1', 'dport', '=', `:${node.controlPort}`]);
    await rejoinAfterClose(c, before, 'SFU node unavailable');
    expect(c.node).toBe(node.id);
    for (let i = 0; i < 5; i++) {
      expect(await cluster.liveNodeIds()).toContain(node.id);
      await sleep(100);
    }
    expect(node.process.running).toBe(true);
  }),
  60_000,
);

test(
  "a node's mediasoup worker killed: its calls are told, rejoin and carry media again, and the node stays",
  reporting(async () => {
    const c = await call(2);
    const node = sfu(c.node);
    const running = await node.process.logged('a running worker', (entry) => entry.message === 'mediasoup worker running');
    const before = c.closedCount();
    process.kill(running.pid as number, 'SIGKILL');
    await rejoinAfterClose(c, before, 'worker died');
    expect(node.process.running).toBe(true);
    expect(await cluster.liveNodeIds()).toContain(node.id);
  }),
  60_000,
);

test(
  'POST /drain needs the cluster secret',
  reporting(async () => {
    const opsUrl = await cluster.sfus[0]!.opsUrl();
    const drain = (headers: Record<string, string>, method = 'POST') => fetch(`${opsUrl}/drain`, { method, headers }).then((r) => r.status);
    expect(await drain({})).toBe(401);
    expect(await drain({ authorization: 'Bearer not-the-cluster-secret-at-all' })).toBe(401);
    expect(await drain({ authorization: `Basic ${cluster.secret}` })).toBe(401);
    expect(await drain({ authorization: `Bearer ${cluster.secret}` }, 'GET')).toBe(405);
    expect((await fetch(`${opsUrl}/readyz`)).status).toBe(200);
    expect(cluster.sfus.every((node) => node.process.running)).toBe(true);
  }),
);

/** Drains the node carrying the first call by `trigger`; every call on it moves to the other node, which the drained node leaves to exit. */
async function drainMovesCalls(trigger: (node: ClusterSfu) => Promise<void>): Promise<void> {
  const calls = await Promise.all([call(2), call(2), call(3), call(2)]);
  const drained = sfu(calls[0]!.node);
  const moving = calls.filter((c) => c.node === drained.id);
  const staying = calls.filter((c) => c.node !== drained.id);
  const before = moving.map((c) => c.closedCount());
  const opsUrl = await drained.opsUrl();

  await trigger(drained);
  // Not ready from the start of the drain: a load balancer or Kubernetes stops sending it work.
  await eventually(async () => (await fetch(`${opsUrl}/readyz`).then((r) => r.status, () => 0)) === 503, 2_000, 'the draining node reports not ready');
  await Promise.all(moving.map((c, i) => rejoinAfterClose(c, before[i]!, NODE_DRAINING_REASON)));
  for (const c of moving) expect(c.node).toBe(other(drained.id).id);
  for (const c of staying) expect(c.closedCount()).toEqual(c.members.map(() => 0));

  await drained.process.waitForExit(MOVED_WITHIN_MS);
  expect(drained.process.exit).toEqual({ code: 0, signal: null });
  expect(await cluster.liveNodeIds()).toEqual([other(drained.id).id]);
  await cluster.restart(drained);
}

test(
  'SIGTERM drains a node: its calls move to the other node and carry media, then it exits',
  reporting(() => drainMovesCalls(async (node) => node.process.signal('SIGTERM'))),
  60_000,
);

test(
  'POST /drain with the secret drains the node the same way',
  reporting(() =>
    drainMovesCalls(async (node) => {
      const response = await fetch(`${await node.opsUrl()}/drain`, { method: 'POST', headers: { authorization: `Bearer ${cluster.secret}` } });
      expect(response.status).toBe(202);
    }),
  ),
  60_000,
);
