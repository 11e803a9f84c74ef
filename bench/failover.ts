/*
 * Failover benchmark: how long after an SFU node is killed (SIGKILL) every participant of its calls
 * receives media again on the other node. A cluster as deployed (API, 2 SFU nodes, 2 signaling
 * processes, Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432; testkit/src/cluster.ts) and the
 * load tester's WebRTC clients (loadtest/src/client/participant.ts: ICE, DTLS, SRTP, every member
 * publishing a microphone and receiving everyone else's). `--calls` calls of `--size` people, members
 * spread over both signaling processes; each round kills the node carrying the first call, and every
 * member of a lost call rejoins by itself the moment it is told (`voice:roomClosed`). Per round, from
 * the kill: the node is out of the registry; the last member is told; every member holds a consumer
 * of every other member's new producer; and the first RTP packet of each of those consumers has
 * arrived at every member (media again). The killed node is started again before the next round.
 */
import type { ProducerSource } from '@concord/protocol';
import { Cluster } from '@concord/testkit/src/cluster';
import { eventually } from '@concord/testkit/src/wait';
import { Participant, type MediaFor } from '../loadtest/src/client/participant';
import { SignalingControl } from '../loadtest/src/client/signaling-control';
import { PacingClock } from '../loadtest/src/media/clock';
import { loadMediaSet } from '../loadtest/src/media/media-set';
import { integerOption, parseCommandLine, runCli } from '../scripts/cli';

const USAGE = `npm run bench:failover -- [options]
  --kills N   SIGKILLs of the node carrying the first call, one per round (default 12)
  --calls N   calls started each round (default 6)
  --size N    people per call, each sending a microphone (default 3)
`;

/** Rejoining (signaling, ICE, DTLS) on a loaded 2-core machine: far beyond any figure, short of a hang. */
const ROUND_TIMEOUT_MS = 60_000;
const MIC: ProducerSource[] = ['mic'];

interface Options {
  kills: number;
  calls: number;
  size: number;
}

interface Round {
  lostCalls: number;
  participants: number;
  evictedMs: number;
  toldMs: number;
  consumersMs: number;
  mediaMs: number;
}

/** A call of WebRTC clients on the cluster. */
interface Call {
  roomId: string;
  members: Participant[];
}

function parseOptions(args: string[]): Options {
  const { values } = parseCommandLine({
    args,
    options: { kills: { type: 'string', default: '12' }, calls: { type: 'string', default: '6' }, size: { type: 'string', default: '3' } },
  });
  const count = (name: keyof Options, min: number, max: number): number => integerOption(name, values[name], min, max);
  return { kills: count('kills', 1, 1000), calls: count('calls', 1, 50), size: count('size', 2, 20) };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** `size` new users in one voice room, each a publishing, receiving client on signaling process i mod n. */
async function startCall(cluster: Cluster, size: number, media: MediaFor, clock: PacingClock): Promise<Call> {
  const users = await Promise.all(Array.from({ length: size }, () => cluster.signUp()));
  const roomId = await cluster.voiceRoom(users[0]!, users.slice(1));
  const members = users.map(
    (user, i) =>
      new Participant(
        { userName: user.name, roomId, publish: MIC, expects: MIC },
        {
          connect: () => SignalingControl.connect(cluster.signalingUrls[i % cluster.signalingUrls.length]!, user.token, () => cluster.grant(user, roomId)),
          media,
          clock,
          verifyEvery: 1,
        },
      ),
  );
  await Promise.all(members.map((member) => member.start()));
  const failed = members.find((member) => member.failed);
  if (failed) throw new Error(`${failed.plan.userName} could not join: ${failed.timeline.error}`);
  await eventually(() => members.every((member) => receiving(member, size - 1, 0) !== undefined), ROUND_TIMEOUT_MS, `every member of ${roomId} receives the others`);
  return { roomId, members };
}

/**
 * When `member` had consumers of `others` producers announced after `since`, and when the first
 * packet of the last of them arrived; undefined until both.
 */
function receiving(member: Participant, others: number, since: number): { consumersAt: number; mediaAt: number } | undefined {
  const fresh = [...member.tracks.values()].filter((track) => !track.closed && track.announcedAt >= since);
  if (new Set(fresh.map((track) => track.producerId)).size < others) return undefined;
  if (fresh.some((track) => track.firstPacketAt === undefined)) return undefined;
  return { consumersAt: Math.max(...fresh.map((track) => track.announcedAt)), mediaAt: Math.max(...fresh.map((track) => track.firstPacketAt!)) };
}

async function round(cluster: Cluster, options: Options, media: MediaFor, clock: PacingClock): Promise<Round> {
  const calls: Call[] = [];
  try {
    for (let i = 0; i < options.calls; i++) calls.push(await startCall(cluster, options.size, media, clock));
    const hosts = await Promise.all(calls.map(async (c) => (await cluster.registry.roomNode(c.roomId))?.id));
    const victim = cluster.sfus.find((sfu) => sfu.id === hosts[0])!;
    const lost = calls.filter((_, i) => hosts[i] === victim.id);
    const people = lost.flatMap((c) => c.members);
    const killedAt = performance.now();
    victim.process.crash();
    let evictedMs = 0;
    await Promise.all([
      eventually(async () => !(await cluster.liveNodeIds()).includes(victim.id), ROUND_TIMEOUT_MS).then(() => (evictedMs = performance.now() - killedAt)),
      eventually(() => people.every((p) => p.rejoins.some((r) => r.closedAt >= killedAt)), ROUND_TIMEOUT_MS, 'every member told'),
    ]);
    const told = people.map((p) => p.rejoins.find((r) => r.closedAt >= killedAt)!.closedAt);
    let again: { consumersAt: number; mediaAt: number }[] = [];
    await eventually(
      () => {
        const failed = people.find((p) => p.failed);
        if (failed) throw new Error(`${failed.plan.userName} did not come back: ${failed.timeline.error}`);
        const each = people.map((p) => receiving(p, options.size - 1, killedAt));
        if (each.some((r) => r === undefined)) return false;
        again = each as { consumersAt: number; mediaAt: number }[];
        return true;
      },
      ROUND_TIMEOUT_MS,
      'every member receives every other member again',
    );
    const latest = (pick: (r: { consumersAt: number; mediaAt: number }) => number) => Math.max(...again.map(pick)) - killedAt;
    const result = {
      lostCalls: lost.length,
      participants: people.length,
      evictedMs,
      toldMs: Math.max(...told) - killedAt,
      consumersMs: latest((r) => r.consumersAt),
      mediaMs: latest((r) => r.mediaAt),
    };
    await cluster.restart(victim);
    return result;
  } finally {
    await Promise.all(calls.flatMap((c) => c.members.map((member) => member.stop())));
  }
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const { media } = await loadMediaSet({ codec: 'vp8', simulcast: false, camera: false, screen: false });
  const clock = new PacingClock();
  const cluster = await Cluster.start({ sfuNodes: 2, signaling: 2, sfuEnv: { LOG_LEVEL: 'warn' } });
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < options.kills; i++) {
      const r = await round(cluster, options, media, clock);
      rounds.push(r);
      console.log(
        `kill ${i + 1}/${options.kills}: ${r.lostCalls} calls, ${r.participants} people; out of the registry ${r.evictedMs.toFixed(0)} ms, last told ${r.toldMs.toFixed(0)} ms, every consumer created ${r.consumersMs.toFixed(0)} ms, everyone receiving media ${r.mediaMs.toFixed(0)} ms`,
      );
    }
  } catch (error) {
    clock.stop();
    await cluster.stop(true);
    throw error;
  }
  clock.stop();
  await cluster.stop();
  const stat = (pick: (r: Round) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
  };
  console.log(`\n${rounds.length} kills, ${options.calls} calls of ${options.size} per round`);
  console.log(`kill → out of the registry:                 ${stat((r) => r.evictedMs)}`);
  console.log(`kill → every member told:                   ${stat((r) => r.toldMs)}`);
  console.log(`kill → every member's consumers created:    ${stat((r) => r.consumersMs)}`);
  console.log(`kill → every member receiving media again:  ${stat((r) => r.mediaMs)}`);
}

runCli('bench:failover', USAGE, main);
