import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode, Result } from '@concord/protocol';
import type { AnySignalingSocket, SignalingServer, VoiceNamespace } from './types';

export interface SignalingMetricsOptions {
  /**
   * Where the metrics go. Default: a registry of their own that also collects the process's
   * default metrics (a process hosting several services passes one shared registry instead).
   */
  registry?: Registry;
}

/** Requests answer in milliseconds; a join (placement, SFU round trip) in tens of them; timeouts at seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Join results that are the platform's fault rather than the client's (alerts watch these). */
const PLATFORM_FAILURES: readonly ErrorCode[] = ['UNAVAILABLE', 'TIMEOUT', 'INTERNAL'];

/** An answer's result label: `ok`, or the protocol's error code (a closed list, so bounded). */
const resultOf = (result: Result<unknown>): string => (result.ok ? 'ok' : result.error.code);

/**
 * A signaling process's Prometheus metrics: its sockets and users, every voice request by event
 * and result with its latency (joins on their own too), where rooms were placed, and the round
 * trip of each control request to an SFU node. Labels are event names, error codes and SFU node
 * ids — all bounded; never a room or a user.
 */
export class SignalingMetrics {
  readonly registry: Registry;
  readonly #requests: Histogram<'event' | 'result'>;
  readonly #joins: Histogram<'result'>;
  readonly #placements: Counter<'node'>;
  readonly #sfuRequests: Histogram<'request' | 'result'>;

  constructor(io: SignalingServer, voice: VoiceNamespace, options: SignalingMetricsOptions = {}) {
    const sockets = (): AnySignalingSocket[] => [...io.sockets.sockets.values(), ...voice.sockets.values()];
    this.registry = options.registry ?? new Registry();
    if (!options.registry) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    new Gauge({
      name: 'concord_signaling_sockets',
      help: 'Connected socket.io sockets of both namespaces (each is authenticated: calls on /voice, real-time events on /)',
      registers,
      collect() {
        this.set(sockets().length);
      },
    });
    new Gauge({
      name: 'concord_signaling_users',
      help: 'Distinct authenticated users with at least one socket on this process',
      registers,
      collect() {
        this.set(new Set(sockets().map((socket) => socket.data.userId)).size);
      },
    });
    this.#requests = new Histogram({
      name: 'concord_signaling_request_duration_seconds',
      help: 'Voice requests from clients by event and result (ok or error code), from arrival to answer',
      labelNames: ['event', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#joins = new Histogram({
      name: 'concord_signaling_voice_join_duration_seconds',
      help: 'Voice joins by result (ok or error code): grant check, placement and the SFU admitting the peer',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#placements = new Counter({
      name: 'concord_signaling_room_placements_total',
      help: 'Rooms looked up or placed for a join, by the SFU node carrying them',
      labelNames: ['node'],
      registers,
    });
    this.#sfuRequests = new Histogram({
      name: 'concord_signaling_sfu_request_duration_seconds',
      help: 'Control requests to SFU nodes by request and result (ok or error code): the round trip',
      labelNames: ['request', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // Joins are what an operator watches first: their series, and those of the platform's own
    // failures, exist before the first one (a rate over a series that appears late misses its start).
    for (const result of ['ok', ...PLATFORM_FAILURES]) this.#joins.zero({ result });
  }

  /** A voice request answered `startedAt` (performance.now()) ago. */
  answered(event: string, result: Result<unknown>, startedAt: number): void {
    const seconds = (performance.now() - startedAt) / 1000;
    this.#requests.observe({ event, result: resultOf(result) }, seconds);
    if (event === 'voice:join') this.#joins.observe({ result: resultOf(result) }, seconds);
  }

  roomPlaced(nodeId: string): void {
    this.#placements.inc({ node: nodeId });
  }

  /** A control request to an SFU node answered (or failed) `startedAt` ago. */
  sfuAnswered(request: string, result: Result<unknown>, startedAt: number): void {
    this.#sfuRequests.observe({ request, result: resultOf(result) }, (performance.now() - startedAt) / 1000);
  }
}
