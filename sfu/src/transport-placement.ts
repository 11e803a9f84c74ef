import type { TransportDirection } from '@concord/protocol';

/** A router of the room, as placement sees it: its worker, and the room's transports on it of the direction being placed. */
export interface RoomRouterView {
  worker: number;
  transports: number;
}

/** A running worker of the node and the streams (producers + consumers) it carries, all rooms together. */
export interface WorkerView {
  index: number;
  streams: number;
}

export interface TransportPlacementRequest {
  direction: TransportDirection;
  /** The room's routers, its home router (the first, where it opened) first. */
  routers: readonly RoomRouterView[];
  workers: readonly WorkerView[];
}

/**
 * Where a room's new transport goes on this node: the worker whose router of the room takes it (a
 * worker without one gets a router, piped to the room's others). Pluggable, so an operator's rule
 * (say, one router per worker for every large room) replaces the default without touching Room.
 * Whether the node takes the transport at all is not its question: the node's capacity is.
 */
export interface TransportPlacementPolicy {
  place(request: TransportPlacementRequest): number;
}

export interface WorkerSharePolicyOptions {
  /** Streams a worker carries before new transports go elsewhere: the node's capacity over its workers. */
  workerShare: number;
  /** Most transports of one direction (peers sending, or peers receiving) a room puts on one router; 0 for no limit. */
  peersPerRouter: number;
}

/**
 * The default: keep a room on as few routers as will do, since every extra router costs a piped copy
 * of each producer. A transport goes to the room's first router whose worker is within its share
 * (and, with `peersPerRouter`, whose router has room for one more peer of that direction); else to a
 * new router on the least-loaded worker within its share that has none of the room yet; else, every
 * worker being past its share, to the least-loaded worker among the room's routers.
 */
export class WorkerSharePolicy implements TransportPlacementPolicy {
  readonly #options: WorkerSharePolicyOptions;

  constructor(options: WorkerSharePolicyOptions) {
    this.#options = options;
  }

  place({ routers, workers }: TransportPlacementRequest): number {
    const { workerShare, peersPerRouter } = this.#options;
    const streams = new Map(workers.map((worker) => [worker.index, worker.streams]));
    const withinShare = (index: number) => (streams.get(index) ?? Infinity) < workerShare;
    const roomy = routers.find((router) => withinShare(router.worker) && (peersPerRouter === 0 || router.transports < peersPerRouter));
    if (roomy) return roomy.worker;
    const leastLoaded = (indexes: number[]) => indexes.sort((a, b) => (streams.get(a) ?? 0) - (streams.get(b) ?? 0) || a - b)[0];
    const hosting = new Set(routers.map((router) => router.worker));
    const fresh = leastLoaded(workers.map((worker) => worker.index).filter((index) => !hosting.has(index) && withinShare(index)));
    if (fresh !== undefined) return fresh;
    const fallback = leastLoaded(routers.map((router) => router.worker).filter((index) => streams.has(index)));
    if (fallback !== undefined) return fallback;
    // The room has no router on a running worker (cannot happen while it is open): the least-loaded worker.
    return leastLoaded(workers.map((worker) => worker.index)) ?? 0;
  }
}
