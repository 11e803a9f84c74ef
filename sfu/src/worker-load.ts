import type { types } from 'mediasoup';

/**
 * Live counts of what one worker carries, kept by watching mediasoup's observers rather than by
 * the code that creates objects: every close path (peer left, transport replaced, worker died)
 * decrements through the same `close` observer event.
 */
export class WorkerLoad {
  routers = 0;
  transports = 0;
  producers = 0;
  consumers = 0;

  /** The number placement compares, as in the registry: streams carried. */
  get streams(): number {
    return this.producers + this.consumers;
  }

  watch(router: types.Router): void {
    this.routers++;
    router.observer.once('close', () => this.routers--);
    router.observer.on('newtransport', (transport) => {
      this.transports++;
      transport.observer.once('close', () => this.transports--);
      transport.observer.on('newproducer', (producer) => {
        this.producers++;
        producer.observer.once('close', () => this.producers--);
      });
      transport.observer.on('newconsumer', (consumer) => {
        this.consumers++;
        consumer.observer.once('close', () => this.consumers--);
      });
    });
  }
}
