import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { types } from 'mediasoup';
import type { RouterAppData } from './app-data';
import type { RunningWorker } from './worker-pool';

/** What the metrics read from the node they describe. */
export interface SfuNodeView {
  readonly id: string;
  draining(): boolean;
  /** Most streams (producers + consumers) the node takes. */
  readonly capacity: number;
  running(): RunningWorker[];
  /** Peers in the room, 0 if it is not open here. */
  peersIn(roomId: string): number;
}

export interface SfuMetricsOptions {
  /**
   * Where the metrics go. Default: a registry of their own that also collects the process's
   * default metrics (a process hosting several services passes one shared registry instead).
   */
  registry?: Registry;
  /** How often mediasoup's stats (transports, producers, consumers, worker CPU) are sampled. Default 5000 ms. */
  statsIntervalMs?: number;
}

const KINDS = ['audio', 'video'] as const;
const DIRECTIONS = ['in', 'out'] as const;
/** Room sizes are bucketed so no room id becomes a label: [label, largest size in the bucket]. */
const ROOM_SIZE_BUCKETS: [string, number][] = [
  ['1', 1],
  ['2', 2],
  ['3-4', 4],
  ['5-8', 8],
  ['9-16', 16],
  ['17-32', 32],
  ['33+', Infinity],
];
const roomSizeBucket = (peers: number): string => ROOM_SIZE_BUCKETS.find(([, max]) => peers <= max)![0];

type Kind = (typeof KINDS)[number];
type Direction = (typeof DIRECTIONS)[number];
/** Cumulative RTP counts of one producer or consumer as mediasoup reports them. */
type RtpTotals = { packets: number; lost: number; retransmitted: number };

/**
 * The SFU node's Prometheus metrics. Counts of mediasoup objects, room sizes and the node's
 * capacity are read when scraped; mediasoup's stats are sampled every `statsIntervalMs` (each
 * sample is one request to a worker per object, so never per packet nor per scrape) and turned
 * into counters from the differences between samples. Labels name the node and the worker index,
 * never a room, peer or user.
 */
export class SfuMetrics {
  readonly registry: Registry;
  readonly #node: SfuNodeView;
  readonly #statsIntervalMs: number;
  readonly #workerDeaths: Counter<'node'>;
  readonly #cpu: Counter<'node' | 'worker'>;
  readonly #bytes: Counter<'node' | 'worker' | 'direction'>;
  readonly #packets: Counter<'node' | 'worker' | 'direction' | 'kind'>;
  readonly #lost: Counter<'node' | 'worker' | 'direction' | 'kind'>;
  readonly #retransmitted: Counter<'node' | 'worker' | 'direction' | 'kind'>;
  readonly #sampleDuration: Gauge<'node'>;
  /** The last cumulative value seen per mediasoup object, to count only what is new. */
  readonly #last = new WeakMap<object, number[]>();
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;

  constructor(node: SfuNodeView, options: SfuMetricsOptions = {}) {
    this.#node = node;
    this.#statsIntervalMs = options.statsIntervalMs ?? 5_000;
    this.registry = options.registry ?? new Registry();
    if (!options.registry) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const perWorker = (name: string, help: string, read: (worker: RunningWorker) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['node', 'worker'],
        registers,
        collect() {
          this.reset();
          for (const running of node.running()) this.set({ node: node.id, worker: String(running.index) }, read(running));
        },
      });
    const perNode = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['node'],
        registers,
        collect() {
          this.set({ node: node.id }, read());
        },
      });
    const byKind = (name: string, help: string, objects: (worker: RunningWorker) => Iterable<{ kind: string }>) =>
      new Gauge({
        name,
        help,
        labelNames: ['node', 'worker', 'kind'],
        registers,
        collect() {
          this.reset();
          for (const running of node.running()) {
            const worker = String(running.index);
            for (const kind of KINDS) this.set({ node: node.id, worker, kind }, 0);
            for (const { kind } of objects(running)) this.inc({ node: node.id, worker, kind });
          }
        },
      });
    const byRoomSize = (name: string, help: string, count: (peers: number) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['node', 'worker', 'room_size'],
        registers,
        collect() {
          this.reset();
          for (const running of node.running()) {
            const worker = String(running.index);
            for (const [room_size] of ROOM_SIZE_BUCKETS) this.set({ node: node.id, worker, room_size }, 0);
            for (const router of running.load.routerSet) {
              const peers = node.peersIn((router.appData as RouterAppData).roomId);
              if (peers > 0) this.inc({ node: node.id, worker, room_size: roomSizeBucket(peers) }, count(peers));
            }
          }
        },
      });

    perNode('concord_sfu_workers_running', 'mediasoup workers running on the node', () => node.running().length);
    const streams = () => node.running().reduce((sum, { load }) => sum + load.streams, 0);
    perNode('concord_sfu_streams', 'Streams (producers + consumers) the node carries: what placement and capacity count', streams);
    perNode('concord_sfu_capacity_streams', 'Most streams the node takes before it refuses new rooms (SFU_CAPACITY)', () => node.capacity);
    // One per-pod number for the autoscaler (docker/k8s: the SFU's HPA target), so no query has to divide.
    perNode('concord_sfu_load_ratio', 'Streams carried / SFU_CAPACITY: 1 when the node takes no new rooms; the SFU autoscaling signal', () => streams() / node.capacity);
    perNode('concord_sfu_draining', '1 while the node is draining (takes no new rooms), else 0', () => (node.draining() ? 1 : 0));
    perWorker('concord_sfu_routers', 'Routers (one per room) on the worker', ({ load }) => load.routers);
    perWorker('concord_sfu_transports', 'WebRTC transports on the worker', ({ load }) => load.transports);
    byKind('concord_sfu_producers', 'Producers (incoming streams) on the worker by kind', ({ load }) => load.producerSet);
    byKind('concord_sfu_consumers', 'Consumers (outgoing streams) on the worker by kind', ({ load }) => load.consumerSet);
    byRoomSize('concord_sfu_rooms', 'Rooms on the worker by their number of peers', () => 1);
    byRoomSize('concord_sfu_peers', 'Peers on the worker by the number of peers in their room', (peers) => peers);

    this.#workerDeaths = new Counter({ name: 'concord_sfu_worker_deaths_total', help: 'mediasoup workers that died (each is replaced)', labelNames: ['node'], registers });
    this.#workerDeaths.inc({ node: node.id }, 0);
    this.#cpu = new Counter({
      name: 'concord_sfu_worker_cpu_seconds_total',
      help: 'CPU time (user + system) of the worker process, from its resource usage, sampled',
      labelNames: ['node', 'worker'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'concord_sfu_transport_bytes_total',
      help: 'Bytes received (in) and sent (out) by the worker\'s transports, from transport stats, sampled',
      labelNames: ['node', 'worker', 'direction'],
      registers,
    });
    const rtp = (name: string, help: string) => new Counter({ name, help, labelNames: ['node', 'worker', 'direction', 'kind'], registers });
    this.#packets = rtp('concord_sfu_rtp_packets_total', 'RTP packets received from producers (in) and sent to consumers (out), sampled');
    this.#lost = rtp(
      'concord_sfu_rtp_packets_lost_total',
      'RTP packets lost: on the way in as the SFU counts them (in), on the way out as receivers report them (out), sampled',
    );
    this.#retransmitted = rtp('concord_sfu_rtp_packets_retransmitted_total', 'RTP packets retransmitted after NACKs, in and out, sampled');
    this.#sampleDuration = new Gauge({
      name: 'concord_sfu_stats_sample_duration_seconds',
      help: 'How long the last sample of mediasoup stats took',
      labelNames: ['node'],
      registers,
    });
  }

  /** Samples now and then every `statsIntervalMs` until `stop()`. */
  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.#statsIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sampling;
  }

  workerDied(): void {
    this.#workerDeaths.inc({ node: this.#node.id });
  }

  /** One pass over every worker's stats; a pass still running is joined, not doubled. */
  sample(): Promise<void> {
    this.#sampling ??= this.#sampleAll().finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  async #sampleAll(): Promise<void> {
    const started = performance.now();
    await Promise.all(this.#node.running().map((running) => this.#sampleWorker(running)));
    this.#sampleDuration.set({ node: this.#node.id }, (performance.now() - started) / 1000);
  }

  async #sampleWorker({ index, worker, load }: RunningWorker): Promise<void> {
    const labels = { node: this.#node.id, worker: String(index) };
    // Every series of a running worker exists from its first sample, traffic or not.
    this.#cpu.inc(labels, 0);
    for (const direction of DIRECTIONS) {
      this.#bytes.inc({ ...labels, direction }, 0);
      for (const kind of KINDS) for (const counter of [this.#packets, this.#lost, this.#retransmitted]) counter.inc({ ...labels, direction, kind }, 0);
    }
    await Promise.all([
      quietly(worker.getResourceUsage()).then((usage) => {
        if (usage) this.#cpu.inc(labels, this.#deltas(worker, [(usage.ru_utime + usage.ru_stime) / 1000])[0]!);
      }),
      ...[...load.transportSet].map(async (transport) => {
        const stats = (await quietly(transport.getStats())) as types.WebRtcTransportStat[] | undefined;
        const totals = stats?.[0];
        if (!totals) return;
        const deltas = this.#deltas(transport, [totals.bytesReceived, totals.bytesSent]);
        this.#bytes.inc({ ...labels, direction: 'in' }, deltas[0]!);
        this.#bytes.inc({ ...labels, direction: 'out' }, deltas[1]!);
      }),
      ...[...load.producerSet].map(async (producer) => this.#countRtp(labels, 'in', producer, await quietly(producer.getStats()), 'inbound-rtp')),
      ...[...load.consumerSet].map(async (consumer) => this.#countRtp(labels, 'out', consumer, await quietly(consumer.getStats()), 'outbound-rtp')),
    ]);
  }

  /** A consumer's stats also list its producer's inbound stream; only `type` entries are its own. */
  #countRtp(
    labels: { node: string; worker: string },
    direction: Direction,
    object: types.Producer | types.Consumer,
    stats: (types.ProducerStat | types.ConsumerStat)[] | undefined,
    type: string,
  ): void {
    if (!stats) return;
    const totals: RtpTotals = { packets: 0, lost: 0, retransmitted: 0 };
    for (const stream of stats) {
      if (stream.type !== type) continue;
      totals.packets += stream.packetCount;
      totals.lost += stream.packetsLost;
      totals.retransmitted += stream.packetsRetransmitted;
    }
    const [packets, lost, retransmitted] = this.#deltas(object, [totals.packets, totals.lost, totals.retransmitted]);
    const series = { ...labels, direction, kind: object.kind as Kind };
    this.#packets.inc(series, packets!);
    this.#lost.inc(series, lost!);
    this.#retransmitted.inc(series, retransmitted!);
  }

  /**
   * What grew since the object's last sample (everything, on its first). A total that shrank
   * (RTCP's cumulative loss goes down when late packets arrive) adds nothing.
   */
  #deltas(object: object, totals: number[]): number[] {
    const last = this.#last.get(object);
    this.#last.set(object, totals);
    return totals.map((total, i) => Math.max(0, total - (last?.[i] ?? 0)));
  }
}

/** A stats request fails when its object closed meanwhile: that object simply has nothing to add. */
const quietly = <T>(request: Promise<T>): Promise<T | undefined> => request.catch(() => undefined);
