/*
 * Failover benchmark: how long after an SFU node is killed (SIGKILL) its calls carry media again on
 * the other node. A cluster as deployed (API, 2 SFU nodes, 2 signaling processes, Redis on
 * 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432), `--calls` calls of `--size` people (one speaker each;
 * members spread over both signaling processes); each round kills the node carrying the first call,
 * and every member of a lost call rejoins the moment it is told, then as the web client's reconnect
 * policy paces it (web/src/call/reconnect-policy.ts). Per round:
 * kill → the node is out of the registry, kill → the last member is told, and kill → every member
 * has rejoined on the survivor and every listener has its consumer of the speaker's new producer
 * (the media path is set up again; a browser's ICE + DTLS on loopback adds ~50–150 ms). The killed
 * node is started again before the next round.
 *
 *   npx tsx bench/failover.ts [--kills 12] [--calls 6] [--size 3]
 */
import { parseArgs } from 'node:util';
import { Cluster, type ClusterCall } from '@concord/testkit/src/cluster';
import { eventually, sleep } from '@concord/testkit/src/wait';
import { DefaultReconnectPolicy } from '../web/src/call/reconnect-policy';

const { values } = parseArgs({
  options: { kills: { type: 'string', default: '12' }, calls: { type: 'string', default: '6' }, size: { type: 'string', default: '3' } },
});
const KILLS = Number(values.kills);
const CALLS = Number(values.calls);
const SIZE = Number(values.size);

interface Round {
  lostCalls: number;
  participants: number;
  evictedMs: number;
  toldMs: number;
  mediaMs: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Rejoins the call as the web client would: at once, then paced by its reconnect policy. */
async function rejoin(c: ClusterCall): Promise<void> {
  const policy = new DefaultReconnectPolicy();
  const lostAt = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await c.connect(30_000);
    } catch (error) {
      const delay = policy.nextRetryDelayMs({ attempt: attempt + 1, elapsedMs: performance.now() - lostAt, reason: 'room-closed', error });
      if (delay === null) throw error;
      retries += 1;
      await sleep(delay);
    }
  }
}

let retries = 0;

async function round(cluster: Cluster): Promise<Round> {
  const calls = await Promise.all(Array.from({ length: CALLS }, () => cluster.call(SIZE)));
  try {
    const victim = cluster.sfus.find((sfu) => sfu.id === calls[0]!.node)!;
    const lost = calls.filter((c) => c.node === victim.id);
    const before = lost.map((c) => c.closedCount());
    const killedAt = performance.now();
    let evictedMs = 0;
    let toldMs = 0;
    victim.process.crash();
    const evicted = eventually(async () => !(await cluster.liveNodeIds()).includes(victim.id), 30_000).then(() => (evictedMs = performance.now() - killedAt));
    await Promise.all([
      evicted,
      ...lost.map(async (c: ClusterCall, i) => {
        await eventually(() => c.closedCount().every((n, m) => n > before[i]![m]!), 30_000, 'every member told');
        toldMs = Math.max(toldMs, performance.now() - killedAt);
        await rejoin(c);
        if (c.node === victim.id) throw new Error(`call ${c.roomId} came back on the killed node`);
      }),
    ]);
    const mediaMs = performance.now() - killedAt;
    await cluster.restart(victim);
    return { lostCalls: lost.length, participants: lost.length * SIZE, evictedMs, toldMs, mediaMs };
  } finally {
    for (const c of calls) c.close();
  }
}

async function main(): Promise<void> {
  const cluster = await Cluster.start({ sfuNodes: 2, signaling: 2, sfuEnv: { LOG_LEVEL: 'warn' } });
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < KILLS; i++) {
      const r = await round(cluster);
      rounds.push(r);
      console.log(
        `kill ${i + 1}/${KILLS}: ${r.lostCalls} calls, ${r.participants} people; out of the registry ${r.evictedMs.toFixed(0)} ms, last told ${r.toldMs.toFixed(0)} ms, everyone's media set up again ${r.mediaMs.toFixed(0)} ms`,
      );
    }
  } catch (error) {
    await cluster.stop(true);
    throw error;
  }
  await cluster.stop();
  const stat = (pick: (r: Round) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
  };
  console.log(`\n${rounds.length} kills, ${CALLS} calls of ${SIZE} per round; ${retries} calls needed a second try`);
  console.log(`kill → out of the registry:          ${stat((r) => r.evictedMs)}`);
  console.log(`kill → every member told:            ${stat((r) => r.toldMs)}`);
  console.log(`kill → every member's media set up:  ${stat((r) => r.mediaMs)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
