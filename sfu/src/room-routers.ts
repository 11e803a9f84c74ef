import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { TransportDirection } from '@concord/protocol';
import type { RouterAppData, TransportAppData } from './app-data';
import type { TransportPlacementPolicy } from './transport-placement';
import type { RouterPlacement, WorkerPool } from './worker-pool';

export interface RoomRoutersOptions {
  roomId: string;
  pool: Pick<WorkerPool, 'createRouter' | 'streamsByWorker'>;
  policy: TransportPlacementPolicy;
  mediaCodecs: types.RouterRtpCodecCapability[];
}

type Router = types.Router<RouterAppData>;

interface RoomRouter extends RouterPlacement {
  /** The room's WebRTC transports on this router, by direction: what the policy weighs. */
  transports: Record<TransportDirection, number>;
}

/**
 * A room's routers on this node: the home router, where the room opened (the speaking observers and
 * the pipes to other nodes live there), and one more per worker the room spread to. Producers live on
 * the router of their peer's send transport; `reach` pipes one to another router (pipeToRouter) the
 * first time a consumer or a node pipe there needs it, and once per router.
 */
export class RoomRouters extends EventEmitter<{ workerclose: [] }> {
  readonly #options: RoomRoutersOptions;
  readonly #routers: RoomRouter[] = [];
  /** The router each producer of the room (its peers' and those piped in from other nodes) lives on. */
  readonly #homeOf = new Map<string, Router>();
  /** Pipes made or under way, by producer, then by target router id. */
  readonly #piped = new Map<string, Map<string, Promise<void>>>();
  /** One placement at a time, so two racing transports cannot open two routers on one worker. */
  #placing: Promise<unknown> = Promise.resolve();

  static async open(options: RoomRoutersOptions): Promise<RoomRouters> {
    const routers = new RoomRouters(options);
    routers.#adopt(await options.pool.createRouter(options.roomId, options.mediaCodecs));
    return routers;
  }

  private constructor(options: RoomRoutersOptions) {
    super();
    this.#options = options;
  }

  get home(): RouterPlacement {
    return this.#routers[0]!;
  }

  all(): RouterPlacement[] {
    return [...this.#routers];
  }

  /** The router (a new one if the policy picks a worker the room is not on yet) for a new transport. */
  placeTransport(direction: TransportDirection): Promise<RouterPlacement> {
    const placed = this.#placing.then(async () => {
      const worker = this.#options.policy.place({
        direction,
        routers: this.#routers.map((router) => ({ worker: router.worker, transports: router.transports[direction] })),
        workers: this.#options.pool.streamsByWorker(),
      });
      const existing = this.#routers.find((router) => router.worker === worker);
      if (existing) return existing;
      return this.#adopt(await this.#options.pool.createRouter(this.#options.roomId, this.#options.mediaCodecs, worker));
    });
    this.#placing = placed.catch(() => undefined);
    return placed;
  }

  /** Records where a producer of the room lives; forgotten when it closes. */
  locate(producer: types.Producer, router: Router): void {
    this.#homeOf.set(producer.id, router);
    producer.observer.once('close', () => {
      this.#homeOf.delete(producer.id);
      this.#piped.delete(producer.id);
    });
  }

  /** Makes the producer available on `target` (piping it there once); resolves at once if it lives there. */
  reach(producerId: string, target: Router): Promise<void> {
    const source = this.#homeOf.get(producerId);
    if (!source || source === target) return Promise.resolve();
    const pipes = this.#piped.get(producerId) ?? new Map<string, Promise<void>>();
    this.#piped.set(producerId, pipes);
    let pipe = pipes.get(target.id);
    if (!pipe) {
      // The piped copy closes with the original (mediasoup closes the pipe producer with its pipe consumer).
      pipe = source.pipeToRouter({ producerId, router: target }).then(() => undefined);
      pipe.catch(() => pipes.delete(target.id));
      pipes.set(target.id, pipe);
    }
    return pipe;
  }

  /** Closes every router of the room, and with them all of its media. */
  close(): void {
    for (const { router } of this.#routers) router.close();
  }

  #adopt(placement: RouterPlacement): RoomRouter {
    const router: RoomRouter = { ...placement, transports: { send: 0, recv: 0 } };
    placement.router.observer.on('newtransport', (transport) => {
      const direction = (transport.appData as Partial<TransportAppData>).direction;
      if (!direction) return;
      router.transports[direction]++;
      transport.observer.once('close', () => router.transports[direction]--);
    });
    // Any of the room's workers dying takes part of its media: the room closes and its peers rejoin.
    placement.router.once('workerclose', () => this.emit('workerclose'));
    this.#routers.push(router);
    return router;
  }
}
