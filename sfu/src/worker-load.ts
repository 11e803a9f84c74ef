import type { types } from 'mediasoup';

/**
 * What one worker carries, kept by watching mediasoup's observers rather than by the code that
 * creates objects: every close path (peer left, transport replaced, worker died) removes through
 * the same `close` observer event. The live objects are kept (not only counted) so the metrics
 * sampler can read their stats.
 *
 * Only clients' transports count: the pipes that join a room's routers across workers and nodes
 * carry copies of client producers, one per router or node (a few per producer, where a room has
 * a consumer per producer per peer), so capacity and metrics speak of what clients send and receive.
 */
export class WorkerLoad {
  readonly routerSet = new Set<types.Router>();
  readonly transportSet = new Set<types.Transport>();
  readonly producerSet = new Set<types.Producer>();
  readonly consumerSet = new Set<types.Consumer>();

  get routers(): number {
    return this.routerSet.size;
  }

  get transports(): number {
    return this.transportSet.size;
  }

  get producers(): number {
    return this.producerSet.size;
  }

  get consumers(): number {
    return this.consumerSet.size;
  }

  /** The number placement compares, as in the registry: streams carried. */
  get streams(): number {
    return this.producers + this.consumers;
  }

  watch(router: types.Router): void {
    track(this.routerSet, router);
    router.observer.on('newtransport', (transport) => {
      if (transport.type === 'pipe') return;
      track(this.transportSet, transport);
      transport.observer.on('newproducer', (producer) => track(this.producerSet, producer));
      transport.observer.on('newconsumer', (consumer) => track(this.consumerSet, consumer));
    });
  }
}

function track<T extends { observer: { once(event: 'close', listener: () => void): unknown } }>(set: Set<T>, item: T): void {
  set.add(item);
  item.observer.once('close', () => set.delete(item));
}
