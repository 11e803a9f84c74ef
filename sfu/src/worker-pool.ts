import { EventEmitter, once } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { ProtocolError, type NodeLoad } from '@concord/protocol';
import type { RouterAppData } from './app-data';
import { WorkerLoad } from './worker-load';

export interface WorkerPoolOptions {
  workers: number;
  /** Worker i listens on rtcPortBase + i, UDP and TCP, for all its transports. */
  rtcPortBase: number;
  listenIp: string;
  announcedAddress: string | undefined;
  /** Kernel buffers of each worker's WebRTC sockets (the UDP one takes every transport's media). */
  socketBuffers: { recvBufferSize: number; sendBufferSize: number };
  logger: Logger;
}

/** Where a room lives: its router, and the worker's shared WebRTC listener for its transports. */
export interface RouterPlacement {
  router: types.Router<RouterAppData>;
  webRtcServer: types.WebRtcServer;
  /** The worker's index in the pool. */
  worker: number;
}

export interface WorkerDeath {
  index: number;
  pid: number;
  error: Error;
  /** The rooms whose router was on the worker; each has already closed through its router. */
  roomIds: string[];
}

export interface WorkerSummary {
  index: number;
  /** Undefined while the worker is being replaced. */
  pid: number | undefined;
  port: number;
  roomIds: string[];
  streams: number;
}

/** A worker that is up, with what it carries: what the metrics read. */
export interface RunningWorker {
  index: number;
  worker: types.Worker;
  load: WorkerLoad;
}

export type WorkerPoolEvents = {
  workerdied: [WorkerDeath];
  workerstarted: [{ index: number; pid: number; port: number }];
};

/** A worker slot keeps its index and port across restarts, so the node's port plan never changes. */
interface WorkerSlot {
  readonly index: number;
  readonly port: number;
  running?: { worker: types.Worker; webRtcServer: types.WebRtcServer; load: WorkerLoad; routers: Set<types.Router<RouterAppData>> };
  restartTimer?: NodeJS.Timeout;
}

const RESTART_RETRY_MS = 1_000;

/** One mediasoup worker per core, each with its WebRtcServer; replaces workers that die. */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: WorkerSlot[];
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = Array.from({ length: options.workers }, (_, index) => ({ index, port: options.rtcPortBase + index }));
  }

  async start(): Promise<void> {
    try {
      await Promise.all(this.#slots.map((slot) => this.#startWorker(slot)));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** A router for a room on the given worker, by default the least-loaded running one (a new room). */
  async createRouter(roomId: string, mediaCodecs: types.RouterRtpCodecCapability[], workerIndex?: number): Promise<RouterPlacement> {
    const slot = workerIndex === undefined ? this.#leastLoaded() : this.#slots[workerIndex];
    // Every worker died and none is back yet: a capacity refusal, so signaling places the peer on
    // another node instead of failing the rejoin that the worker's death has just set off.
    if (!slot?.running) throw new ProtocolError('CAPACITY', 'no mediasoup worker is running');
    const { worker, webRtcServer, load, routers } = slot.running;
    const router = await worker.createRouter<RouterAppData>({ mediaCodecs, appData: { roomId } });
    load.watch(router);
    routers.add(router);
    // A worker's death closes its routers before 'died' fires; keep them listed until then so the
    // death can name its rooms (the running entry is dropped as a whole afterwards).
    router.observer.once('close', () => {
      if (!worker.died) routers.delete(router);
    });
    return { router, webRtcServer, worker: slot.index };
  }

  /** The running workers and the streams each carries: what transport placement weighs. */
  streamsByWorker(): { index: number; streams: number }[] {
    return this.#slots.flatMap(({ index, running }) => (running ? [{ index, streams: running.load.streams }] : []));
  }

  load(): NodeLoad {
    const load: NodeLoad = { workers: 0, routers: 0, transports: 0, producers: 0, consumers: 0 };
    for (const { running } of this.#slots) {
      if (!running) continue;
      load.workers++;
      load.routers += running.load.routers;
      load.transports += running.load.transports;
      load.producers += running.load.producers;
      load.consumers += running.load.consumers;
    }
    return load;
  }

  workers(): WorkerSummary[] {
    return this.#slots.map(({ index, port, running }) => ({
      index,
      port,
      pid: running?.worker.pid,
      roomIds: running ? [...running.routers].map((router) => router.appData.roomId) : [],
      streams: running?.load.streams ?? 0,
    }));
  }

  running(): RunningWorker[] {
    return this.#slots.flatMap(({ index, running }) => (running ? [{ index, worker: running.worker, load: running.load }] : []));
  }

  /** Closes every worker and resolves once their processes have exited. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.running?.worker;
      slot.running = undefined;
      if (!worker) continue;
      if (!worker.subprocessClosed) exits.push(once(worker, 'subprocessclose'));
      worker.close();
    }
    await Promise.all(exits);
  }

  #leastLoaded(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.#slots) {
      if (!slot.running) continue;
      if (!best?.running || compareLoad(slot.running.load, best.running.load) < 0) best = slot;
    }
    return best;
  }

  async #startWorker(slot: WorkerSlot): Promise<void> {
    const { listenIp, announcedAddress, socketBuffers, logger } = this.#options;
    const worker = await mediasoup.createWorker({ logLevel: 'warn' });
    let webRtcServer: types.WebRtcServer;
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip: listenIp, announcedAddress, port: slot.port, ...socketBuffers })),
      });
    } catch (error) {
      worker.close();
      throw error;
    }
    if (this.#closed) {
      worker.close();
      return;
    }
    slot.running = { worker, webRtcServer, load: new WorkerLoad(), routers: new Set() };
    worker.once('died', (error) => this.#onWorkerDied(slot, worker, error));
    logger.info({ worker: slot.index, pid: worker.pid, port: slot.port }, 'mediasoup worker running');
    this.emit('workerstarted', { index: slot.index, pid: worker.pid, port: slot.port });
  }

  #onWorkerDied(slot: WorkerSlot, worker: types.Worker, error: Error): void {
    const roomIds = slot.running ? [...slot.running.routers].map((router) => router.appData.roomId) : [];
    slot.running = undefined;
    this.#options.logger.error({ worker: slot.index, pid: worker.pid, err: error, roomIds }, 'mediasoup worker died; replacing it');
    this.emit('workerdied', { index: slot.index, pid: worker.pid, error, roomIds });
    this.#restart(slot);
  }

  #restart(slot: WorkerSlot): void {
    if (this.#closed) return;
    this.#startWorker(slot).catch((error: unknown) => {
      this.#options.logger.error({ worker: slot.index, err: error }, `mediasoup worker failed to start; retrying in ${RESTART_RETRY_MS} ms`);
      slot.restartTimer = setTimeout(() => this.#restart(slot), RESTART_RETRY_MS);
    });
  }
}

/** Fewer streams first; among equals, fewer rooms, so empty rooms still spread across cores. */
const compareLoad = (a: WorkerLoad, b: WorkerLoad): number => a.streams - b.streams || a.routers - b.routers;
