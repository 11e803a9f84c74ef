import type { ProducerSource } from '@concord/protocol';
import { FREEZE_MS, type IncomingCounters, type IncomingTrack } from './client/incoming-track';
import type { BrowserTimeline, RecvStats } from './client/browser';
import type { Participant } from './client/participant';
import type { PublisherCounters } from './client/publisher';
import type { Distribution, ProcessUse, Sample, StageResult, Thresholds } from './result';
import { cpuTimeMs, machineBusyMs, residentBytes, udpDrops } from './target/proc';
import type { SfuProcesses } from './target/platform';

/**
 * Measurements as differences of snapshots: a snapshot copies every counter of the clients and the
 * CPU time of the SFU's processes at one instant, so any two make a window with nothing reset.
 */

export const DEFAULT_THRESHOLDS: Thresholds = { maxLossPct: 1, maxWorkerCpu: 0.85, maxJoinP95Ms: 1_000, maxMissingTracksPct: 1 };
/**
 * Above this much of a core, this event-loop lag, or with its own sockets dropping more than this
 * share of what it receives, the generator's own limits show in the numbers.
 */
const GENERATOR_CPU_LIMIT = 0.85;
const GENERATOR_LAG_LIMIT_MS = 100;
const GENERATOR_DROP_LIMIT = 0.001;
/**
 * While joining, the generator is busy with DTLS handshakes by design; what matters is whether it
 * delayed the joins it times: lag beyond a quarter of the join-time threshold, or no CPU left.
 */
const JOIN_LAG_SHARE = 0.25;
const JOIN_CPU_LIMIT = 0.95;
/** Cores of other people's load above which a stage's numbers are disturbed. */
const FOREIGN_CPU_LIMIT = 0.3;

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, min: sorted[0] ?? 0, p50: at(50), p95: at(95), p99: at(99), max: sorted.at(-1) ?? 0 };
}

export interface LoadSnapshot {
  at: number;
  tracks: Map<IncomingTrack, IncomingCounters>;
  published: PublisherCounters;
  srtp: { verified: number; failures: number };
  /** Why each transport that went down while in use did, so far. */
  transportsLost: string[];
  processes: SfuProcesses;
  cpuMs: Map<number, number>;
  generatorCpuMs: number;
  /** Datagrams dropped at full receive buffers, so far, of the SFU's sockets and of the clients'. */
  udpDrops: { sfu: number; generator: number };
  /** CPU time of the whole machine so far: what is not ours is someone else's load. */
  machineBusyMs: number;
}

/** `helperPids`: processes of the test itself besides this one (browsers), so their CPU is not taken for others' load. */
export function snapshot(participants: readonly Participant[], processes: SfuProcesses, helperPids: readonly number[] = [], at = performance.now()): LoadSnapshot {
  const tracks = new Map<IncomingTrack, IncomingCounters>();
  const published: PublisherCounters = { packetsSent: 0, bytesSent: 0, nacksReceived: 0, packetsRetransmitted: 0, keyframeRequests: 0 };
  const srtp = { verified: 0, failures: 0 };
  const transportsLost: string[] = [];
  for (const participant of participants) {
    for (const track of participant.tracks.values()) tracks.set(track, { ...track.counters });
    for (const track of participant.published) for (const key of Object.keys(published) as (keyof PublisherCounters)[]) published[key] += track.counters[key];
    for (const counters of participant.transportCounters()) {
      srtp.verified += counters.verified;
      srtp.failures += counters.verifyFailures;
      if (counters.lost) transportsLost.push(counters.lost);
    }
  }
  const cpuMs = new Map<number, number>();
  for (const pid of [processes.nodePid, ...processes.workerPids, ...processes.otherPids, ...helperPids]) {
    const used = pid === undefined ? undefined : cpuTimeMs(pid);
    if (pid !== undefined && used !== undefined) cpuMs.set(pid, used);
  }
  const { user, system } = process.cpuUsage();
  const sfuPids = [processes.nodePid, ...processes.workerPids].filter((pid) => pid !== undefined);
  return {
    at,
    tracks,
    published,
    srtp,
    transportsLost,
    processes,
    cpuMs,
    generatorCpuMs: (user + system) / 1000,
    udpDrops: { sfu: udpDrops(sfuPids), generator: udpDrops([process.pid]) },
    machineBusyMs: machineBusyMs(),
  };
}

/**
 * Cores the rest of the machine kept busy between two snapshots: other people's processes on a
 * shared machine, which take CPU from the SFU and the generator and make a stage say little.
 */
export function foreignCpu(before: LoadSnapshot, after: LoadSnapshot): number {
  const wall = after.at - before.at;
  if (wall <= 0) return 0;
  let ours = after.generatorCpuMs - before.generatorCpuMs;
  for (const [pid, end] of after.cpuMs) ours += end - (before.cpuMs.get(pid) ?? end);
  return Math.max(0, (after.machineBusyMs - before.machineBusyMs - ours) / wall);
}

const ZERO: IncomingCounters = { packets: 0, bytes: 0, expected: 0, duplicates: 0, freezes: 0, freezeMs: 0, nacksSent: 0, nackedPackets: 0, plisSent: 0 };

function trackDelta(before: LoadSnapshot, after: LoadSnapshot, track: IncomingTrack): IncomingCounters {
  const now = after.tracks.get(track) ?? ZERO;
  const then = before.tracks.get(track) ?? ZERO;
  return Object.fromEntries(Object.keys(now).map((key) => [key, now[key as keyof IncomingCounters] - then[key as keyof IncomingCounters]])) as unknown as IncomingCounters;
}

function cpuOf(before: LoadSnapshot, after: LoadSnapshot, pid: number | undefined): number {
  if (pid === undefined) return 0;
  const start = before.cpuMs.get(pid);
  const end = after.cpuMs.get(pid);
  return start === undefined || end === undefined || after.at <= before.at ? 0 : (end - start) / (after.at - before.at);
}

/** Totals over every received track between two snapshots. */
function receivedTotals(before: LoadSnapshot, after: LoadSnapshot) {
  let packets = 0;
  let expected = 0;
  let bytes = 0;
  for (const track of after.tracks.keys()) {
    const delta = trackDelta(before, after, track);
    packets += delta.packets;
    expected += delta.expected;
    bytes += delta.bytes;
  }
  return { packets, expected, bytes, lossPct: expected > 0 ? Math.max(0, (100 * (expected - packets)) / expected) : 0 };
}

/** One line of the live view. */
export function sample(before: LoadSnapshot, after: LoadSnapshot, participants: readonly Participant[], startedAt: number): Sample {
  const seconds = (after.at - before.at) / 1000;
  const totals = receivedTotals(before, after);
  return {
    t: Math.round((after.at - startedAt) / 100) / 10,
    participants: participants.length,
    joined: participants.filter((p) => p.timeline.transportsConnectedAt !== undefined && !p.failed).length,
    failed: participants.filter((p) => p.failed).length,
    transportsLost: after.transportsLost.length,
    consumers: [...after.tracks.keys()].filter((track) => !track.closed).length,
    receivedKbps: seconds > 0 ? (totals.bytes * 8) / 1000 / seconds : 0,
    lossPct: totals.lossPct,
    workerCpu: Math.max(0, ...after.processes.workerPids.map((pid) => cpuOf(before, after, pid))),
    nodeCpu: cpuOf(before, after, after.processes.nodePid),
    generatorCpu: seconds > 0 ? (after.generatorCpuMs - before.generatorCpuMs) / (after.at - before.at) : 0,
  };
}

export interface StageInput {
  rooms: number;
  participants: readonly Participant[];
  /** The participants that joined during this stage: their join times are this stage's. */
  newcomers: readonly Participant[];
  /**
   * Taken when this stage's joins began: consumers announced since count toward its first-RTP
   * times, and what went wrong since, in joining or settling, is this stage's too.
   */
  stageStart: LoadSnapshot;
  before: LoadSnapshot;
  after: LoadSnapshot;
  expectedBitrate: (source: ProducerSource) => number;
  /** Resident memory before any load, to report what the load added. */
  idleRss: { node: number; workers: number };
  eventLoopP99Ms: number;
  /** Browser participants: their join timelines and receive counters at the window's ends; `newcomers` joined in this stage. */
  browsers: { timelines: readonly BrowserTimeline[]; before: readonly (RecvStats | null)[]; after: readonly (RecvStats | null)[]; newcomers: number };
  /** The generator and the rest of the machine while this stage's participants joined (werift's DTLS handshakes are CPU-heavy). */
  ramp: { cpu: number; eventLoopP99Ms: number; foreignCpu: number };
  thresholds: Thresholds;
}

export function stageResult(input: StageInput): StageResult {
  const { participants, newcomers, before, after } = input;
  const seconds = (after.at - before.at) / 1000;
  const since = (p: Participant, at: number | undefined) => (at === undefined ? [] : [at - p.timeline.startedAt]);
  const joined = newcomers.filter((p) => !p.failed);

  const firstRtp: number[] = [];
  const jitters: number[] = [];
  const perSubscriberKbps: number[] = [];
  let expectedTracks = 0;
  let receivedTracks = 0;
  let expectedBits = 0;
  const counters = { freezes: 0, freezeMs: 0, nacksSent: 0, nackedPackets: 0, plisSent: 0 };
  for (const participant of participants) {
    expectedTracks += participant.plan.expects.length;
    expectedBits += participant.plan.expects.reduce((sum, source) => sum + input.expectedBitrate(source), 0);
    let bytes = 0;
    // By producer: a second consumer of the same track is no second track.
    const flowing = new Set<string>();
    for (const track of participant.tracks.values()) {
      const delta = trackDelta(before, after, track);
      bytes += delta.bytes;
      // Flowing: packets in the window and still arriving at its end (a track cut mid-window is missing).
      if (delta.packets > 0 && !track.closed && after.at - (track.lastArrivalAt ?? -Infinity) < FREEZE_MS) {
        flowing.add(track.producerId);
        jitters.push(track.jitterMs);
      }
      for (const key of Object.keys(counters) as (keyof typeof counters)[]) counters[key] += delta[key];
      if (track.announcedAt >= input.stageStart.at && track.firstPacketAt !== undefined) firstRtp.push(track.firstPacketAt - track.announcedAt);
    }
    receivedTracks += Math.min(flowing.size, participant.plan.expects.length);
    if (participant.plan.expects.length > 0) perSubscriberKbps.push((bytes * 8) / 1000 / seconds);
  }
  const totals = receivedTotals(before, after);

  const workers = after.processes.workerPids.map((pid) => processUse(before, after, pid));
  const nodePid = after.processes.nodePid;
  const node = nodePid === undefined ? undefined : processUse(before, after, nodePid);
  const others = after.processes.otherPids.map((pid) => processUse(before, after, pid));
  const consumers = [...after.tracks.keys()].filter((track) => !track.closed).length;
  const packetsOut = totals.packets;
  const packetsIn = after.published.packetsSent - before.published.packetsSent;
  const workerCpuMs = workers.reduce((sum, worker) => sum + worker.cpu * (after.at - before.at), 0);
  const workerRss = workers.reduce((sum, worker) => sum + worker.rssBytes, 0);
  const generatorCpu = (after.generatorCpuMs - before.generatorCpuMs) / (after.at - before.at);
  // Sockets that closed meanwhile take their counts with them; a window never has negative drops.
  const drops = { sfu: Math.max(0, after.udpDrops.sfu - before.udpDrops.sfu), generator: Math.max(0, after.udpDrops.generator - before.udpDrops.generator) };

  const stage: StageResult = {
    rooms: input.rooms,
    participants: participants.length,
    consumers,
    producers: participants.reduce((sum, p) => sum + p.published.length, 0),
    windowSeconds: Math.round(seconds * 10) / 10,
    join: {
      connectMs: distribution(joined.flatMap((p) => since(p, p.timeline.connectedAt))),
      joinedMs: distribution(joined.flatMap((p) => since(p, p.timeline.joinedAt))),
      transportsMs: distribution(joined.flatMap((p) => since(p, p.timeline.transportsConnectedAt))),
      firstRtpMs: distribution(firstRtp),
      ...(input.browsers.newcomers > 0 && {
        firstFrameMs: distribution(input.browsers.timelines.flatMap((b) => (b.firstFrameAt === undefined ? [] : [b.firstFrameAt - b.startedAt]))),
      }),
      failures: newcomers.length - joined.length,
      errors: [...new Set(newcomers.flatMap((p) => (p.timeline.error ? [p.timeline.error] : [])))].slice(0, 10),
    },
    receive: {
      expectedTracks,
      receivedTracks,
      missingTracks: expectedTracks - receivedTracks,
      expectedKbps: expectedBits / 1000,
      receivedKbps: (totals.bytes * 8) / 1000 / seconds,
      perSubscriberKbps: distribution(perSubscriberKbps),
      lossPct: totals.lossPct,
      jitterMs: { mean: jitters.length ? jitters.reduce((a, b) => a + b, 0) / jitters.length : 0, p95: distribution(jitters).p95 },
      freezes: counters.freezes,
      freezeSeconds: counters.freezeMs / 1000,
      nacksSent: counters.nacksSent,
      nackedPackets: counters.nackedPackets,
      plisSent: counters.plisSent,
      srtpVerified: after.srtp.verified - before.srtp.verified,
      srtpFailures: after.srtp.failures - before.srtp.failures,
      transportsLost: after.transportsLost.length,
      transportsLostWhy: [...new Set(after.transportsLost)],
    },
    publish: {
      packetsSent: packetsIn,
      nacksReceived: after.published.nacksReceived - before.published.nacksReceived,
      packetsRetransmitted: after.published.packetsRetransmitted - before.published.packetsRetransmitted,
      keyframeRequests: after.published.keyframeRequests - before.published.keyframeRequests,
    },
    sfu: {
      workers,
      ...(node && { node }),
      packetsInPerSecond: packetsIn / seconds,
      packetsOutPerSecond: packetsOut / seconds,
      workerCpuUsPerPacket: packetsOut > 0 ? (workerCpuMs * 1000) / packetsOut : 0,
      workerRssPerConsumer: consumers > 0 ? Math.max(0, workerRss - input.idleRss.workers) / consumers : 0,
      ...(node && { nodeRssPerConsumer: consumers > 0 ? Math.max(0, node.rssBytes - input.idleRss.node) / consumers : 0 }),
      udpDrops: drops.sfu,
      ...(others.length > 0 && { others: { cpu: others.reduce((sum, p) => sum + p.cpu, 0), rssBytes: others.reduce((sum, p) => sum + p.rssBytes, 0) } }),
    },
    generator: {
      cpu: generatorCpu,
      cpuUsPerPacket: packetsOut > 0 ? ((after.generatorCpuMs - before.generatorCpuMs) * 1000) / packetsOut : 0,
      eventLoopP99Ms: input.eventLoopP99Ms, udpDrops: drops.generator, ramp: { cpu: input.ramp.cpu, eventLoopP99Ms: input.ramp.eventLoopP99Ms },
    },
    foreignCpu: { measuring: foreignCpu(before, after), joining: input.ramp.foreignCpu },
    ...(input.browsers.timelines.length > 0 && { browsers: browserWindow(input.browsers, seconds) }),
    breaches: [],
    generatorLimits: [
      ...saturation('measuring', generatorCpu, GENERATOR_CPU_LIMIT, input.eventLoopP99Ms, GENERATOR_LAG_LIMIT_MS),
      ...saturation('joining', input.ramp.cpu, JOIN_CPU_LIMIT, input.ramp.eventLoopP99Ms, JOIN_LAG_SHARE * input.thresholds.maxJoinP95Ms),
      ...(drops.generator > GENERATOR_DROP_LIMIT * Math.max(1, packetsOut) ? [`its sockets dropped ${drops.generator} datagrams`] : []),
      ...consentLosses(input.stageStart, after, Math.max(generatorCpu, input.ramp.cpu), Math.max(0, ...workers.map((worker) => worker.cpu))),
    ],
  };
  stage.breaches = breaches(stage, input.thresholds);
  return stage;
}

/** Whether other people's load on the machine was high enough to make this stage's numbers say little. */
export function disturbed(stage: StageResult, phase: 'measuring' | 'joining'): boolean {
  return stage.foreignCpu[phase] > FOREIGN_CPU_LIMIT;
}

/**
 * ICE consent expiry at our clients (werift waits 500 ms for each consent response, without
 * retransmission) follows a starved client event loop more often than an SFU that stopped
 * answering: when the generator was busier than the SFU, the loss is the generator's.
 */
function consentLosses(before: LoadSnapshot, after: LoadSnapshot, generatorCpu: number, workerCpu: number): string[] {
  const lost = after.transportsLost.filter((why) => why === 'ICE failed').length - before.transportsLost.filter((why) => why === 'ICE failed').length;
  if (lost <= 0 || generatorCpu < workerCpu) return [];
  return [`${lost} client transports failed ICE consent while the generator (${Math.round(generatorCpu * 100)}% CPU) was busier than the SFU`];
}

function saturation(phase: string, cpu: number, cpuLimit: number, eventLoopP99Ms: number, lagLimitMs: number): string[] {
  if (cpu <= cpuLimit && eventLoopP99Ms <= lagLimitMs) return [];
  return [`${phase}: CPU ${Math.round(cpu * 100)}%, event loop p99 ${Math.round(eventLoopP99Ms)} ms`];
}

function browserWindow(browsers: StageInput['browsers'], seconds: number): NonNullable<StageResult['browsers']> {
  const rate = (pick: (stats: RecvStats) => number) =>
    distribution(browsers.after.flatMap((after, index) => {
      const before = browsers.before[index];
      return after && before ? [(pick(after) - pick(before)) / seconds] : [];
    }));
  return {
    count: browsers.timelines.length,
    connected: browsers.after.filter((stats) => stats !== null).length,
    framesDecodedPerSecond: rate((stats) => stats.video.framesDecoded),
    videoPacketsPerSecond: rate((stats) => stats.video.packetsReceived),
    audioPacketsPerSecond: rate((stats) => stats.audio.packetsReceived),
    errors: browsers.timelines.flatMap((b) => (b.error ? [`${b.userName}: ${b.error}`] : [])),
  };
}

function processUse(before: LoadSnapshot, after: LoadSnapshot, pid: number): ProcessUse {
  return { pid, cpu: cpuOf(before, after, pid), rssBytes: residentBytes(pid) ?? 0 };
}

/** Resident memory of the SFU's processes now: the reference the stages' per-consumer memory is added to. */
export function rssOf(processes: SfuProcesses): { node: number; workers: number } {
  return {
    node: processes.nodePid === undefined ? 0 : (residentBytes(processes.nodePid) ?? 0),
    workers: processes.workerPids.reduce((sum, pid) => sum + (residentBytes(pid) ?? 0), 0),
  };
}

export function breaches(stage: StageResult, thresholds: Thresholds): string[] {
  const found: string[] = [];
  const { receive, join, sfu } = stage;
  if (receive.lossPct > thresholds.maxLossPct) found.push(`loss ${receive.lossPct.toFixed(2)}% > ${thresholds.maxLossPct}%`);
  const busiest = Math.max(0, ...sfu.workers.map((worker) => worker.cpu));
  if (busiest > thresholds.maxWorkerCpu) found.push(`worker CPU ${(busiest * 100).toFixed(0)}% > ${thresholds.maxWorkerCpu * 100}%`);
  // Joins slowed by other people's load are reported, not judged: they say nothing of the SFU.
  if (join.transportsMs.p95 > thresholds.maxJoinP95Ms && !disturbed(stage, 'joining')) found.push(`join p95 ${join.transportsMs.p95.toFixed(0)} ms > ${thresholds.maxJoinP95Ms} ms`);
  const missingPct = receive.expectedTracks > 0 ? (100 * receive.missingTracks) / receive.expectedTracks : 0;
  if (missingPct > thresholds.maxMissingTracksPct) found.push(`${receive.missingTracks} of ${receive.expectedTracks} tracks missing`);
  if (receive.srtpFailures > 0) found.push(`${receive.srtpFailures} packets failed SRTP authentication`);
  if (receive.transportsLost > 0) found.push(`${receive.transportsLost} transports lost (${receive.transportsLostWhy.join(', ')})`);
  return found;
}
