import type { Scenario } from './scenario';

/**
 * The JSON a run writes, and what the HTML report and the terminal read. Times are milliseconds,
 * bitrates kilobits per second, CPU a fraction of one core (1 = a whole core busy).
 */

export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One second of the run, for the live view and the time charts. */
export interface Sample {
  /** Seconds since the run (or the baseline) began. */
  t: number;
  participants: number;
  /** Participants with every transport connected. */
  joined: number;
  failed: number;
  /** Transports whose ICE or DTLS went down while in use, so far. */
  transportsLost: number;
  consumers: number;
  receivedKbps: number;
  lossPct: number;
  /** Busiest worker. */
  workerCpu: number;
  nodeCpu: number;
  generatorCpu: number;
}

export interface ProcessUse {
  pid: number;
  cpu: number;
  rssBytes: number;
}

/** One load level held for a measurement window. */
export interface StageResult {
  rooms: number;
  participants: number;
  /** Counted by the clients: tracks received, tracks published. With one worker, all are on it. */
  consumers: number;
  producers: number;
  windowSeconds: number;
  join: {
    /** Signaling connected, `voice:join` answered, transports connected: from the participant's start. */
    connectMs: Distribution;
    joinedMs: Distribution;
    transportsMs: Distribution;
    /** From a consumer's announcement to its first RTP packet. */
    firstRtpMs: Distribution;
    /** Browsers only: from start to the first decoded video frame. */
    firstFrameMs?: Distribution;
    failures: number;
    errors: string[];
  };
  receive: {
    expectedTracks: number;
    receivedTracks: number;
    missingTracks: number;
    expectedKbps: number;
    receivedKbps: number;
    /** Per subscriber, received / expected bitrate. */
    perSubscriberKbps: Distribution;
    lossPct: number;
    jitterMs: { mean: number; p95: number };
    freezes: number;
    freezeSeconds: number;
    nacksSent: number;
    nackedPackets: number;
    plisSent: number;
    /** Sampled SRTP authentication of received packets. */
    srtpVerified: number;
    srtpFailures: number;
    /** Transports (so far, not only in this window) whose ICE or DTLS went down while in use, and why. */
    transportsLost: number;
    transportsLostWhy: string[];
  };
  publish: { packetsSent: number; nacksReceived: number; packetsRetransmitted: number; keyframeRequests: number };
  sfu: {
    workers: ProcessUse[];
    /** The Node process holding the workers (API and signaling too in the standalone launcher); absent for the baseline. */
    node?: ProcessUse;
    /** RTP packets per second into the SFU (published) and out of it (received by subscribers). */
    packetsInPerSecond: number;
    packetsOutPerSecond: number;
    /** Worker CPU time per forwarded packet, in microseconds. */
    workerCpuUsPerPacket: number;
    /** Resident memory added since before the load, per consumer, in bytes. */
    workerRssPerConsumer: number;
    nodeRssPerConsumer?: number;
    /** Datagrams the kernel dropped at the SFU's full socket receive buffers (e.g. while a worker was not scheduled). */
    udpDrops: number;
    /** The platform's other processes together (launcher, embedded database). */
    others?: { cpu: number; rssBytes: number };
  };
  /**
   * The load generator (this process) during the window: CPU, event-loop lag, drops at its clients'
   * sockets; and during the ramp, when its own DTLS handshakes (werift, ~20 ms of CPU each) add to
   * the join times it measures.
   */
  generator: {
    cpu: number;
    /** Its CPU time per packet the SFU forwarded (received by a client), in microseconds: what limits the load it can make. */
    cpuUsPerPacket: number;
    eventLoopP99Ms: number;
    udpDrops: number;
    ramp: { cpu: number; eventLoopP99Ms: number };
  };
  /**
   * Cores other processes of the machine kept busy (a shared machine: other people's work), while
   * measuring and while this stage's participants joined. Above 0.3 a stage is disturbed: its join
   * times are not judged, and a search measures a breaking window again.
   */
  foreignCpu: { measuring: number; joining: number };
  /** Headless Chromium participants in the first room (--browsers), per browser per second. */
  browsers?: {
    count: number;
    /** With a live call at the window's end. */
    connected: number;
    framesDecodedPerSecond: Distribution;
    videoPacketsPerSecond: Distribution;
    audioPacketsPerSecond: Distribution;
    errors: string[];
  };
  /** Thresholds this stage broke (empty: it passed). */
  breaches: string[];
  /** Where the load generator was the bottleneck (empty: it was not): numbers at this load say more about it than the SFU. */
  generatorLimits: string[];
}

export interface Thresholds {
  maxLossPct: number;
  maxWorkerCpu: number;
  maxJoinP95Ms: number;
  maxMissingTracksPct: number;
}

export interface Knee {
  /** The last stage that passed every threshold, if any did. */
  stage?: StageResult;
  /** Why the search stopped. */
  reason: string;
  /** No threshold of the SFU broke: the search stopped for the generator, the room limit or time. */
  lowerBound: boolean;
  consumersPerWorkerCore?: number;
  /** Consumers per worker core at which the busiest worker would reach maxWorkerCpu, extrapolated linearly from the knee. */
  extrapolatedConsumersAtCpuLimit?: number;
}

/**
 * `platform`: the target asked for; `baseline`: bare mediasoup; `piped`: the same cluster with
 * `--pipe-env` on its nodes; `one node`: the same cluster with one SFU node (`--scale-out`).
 */
export type RunLabel = 'platform' | 'baseline' | 'piped' | 'one node';

export interface TargetRun {
  label: RunLabel;
  description: string;
  stages: StageResult[];
  samples: Sample[];
  knee?: Knee;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  platform: string;
  /** 1-minute load average before the run: shared machines make numbers noisy. */
  loadAverageBefore: number;
}

export interface LoadTestResult {
  version: 1;
  startedAt: string;
  command: string;
  scenario: Scenario;
  thresholds: Thresholds;
  machine: Machine;
  workers: number;
  verifyEvery: number;
  runs: TargetRun[];
  /** Platform over baseline, at the same load (see summary.ts for which stage). */
  ratios?: { rooms: number; consumers: number; workerCpu: number; workerCpuPerPacket: number; joinP95: number; lossPct: { platform: number; baseline: number } };
  /** The piped run against the platform's (one router per room) at the same load: what the pipe costs the workers. */
  pipe?: PipeComparison;
  /** The platform's N nodes against one node, each searched to its knee at the same thresholds. */
  scaleOut?: ScaleOut;
}

export interface PipeComparison {
  rooms: number;
  consumers: number;
  /** Worker CPU time per packet a client received, in µs: with every room on one router, piped, and piped / one router. */
  workerCpuUsPerPacket: { oneRouter: number; piped: number; ratio: number };
  /** CPU of each worker (all nodes), busiest first: a piped room loads more than one. */
  workerCpu: { oneRouter: number[]; piped: number[] };
  lossPct: { oneRouter: number; piped: number };
}

export interface ScaleOut {
  nodes: number;
  /** Consumers at each knee, and N nodes / 1 node. */
  kneeConsumers: { nodes: number; oneNode: number; ratio: number };
  /** Either knee is a lower bound (the generator or the room limit ended the search, not a threshold). */
  lowerBound: boolean;
  /** At each knee: the generator's CPU per forwarded packet, and the workers' — what bounds the ratio on one machine. */
  generatorUsPerPacket: { nodes: number; oneNode: number };
  workerCpuUsPerPacket: { nodes: number; oneNode: number };
}
