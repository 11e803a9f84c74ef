import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import type { ControlRequest, ControlRequestName, ControlResponse, PipeEndpoint } from '@concord/protocol';
import type { ProducerAppData } from './app-data';
import { toMediasoup, toWire } from './wire';

type Producer = types.Producer<ProducerAppData>;

/** Requests to the node at the other end of the pipe, over this node's control connection to it. */
export type PipeChannel = <N extends ControlRequestName>(name: N, data: ControlRequest<N>) => Promise<ControlResponse<N>>;

export interface RoomPipeOptions {
  roomId: string;
  localNodeId: string;
  remoteNodeId: string;
  /** The room's home router: what is piped out must be there, what is piped in arrives there. */
  router: types.Router;
  listenIp: string;
  announcedAddress: string | undefined;
  channel: PipeChannel;
  logger: Logger;
}

/** A peer of the room on the other node: arrived (with its name) or left (without). */
export interface RemotePeer {
  peerId: string;
  displayName?: string;
}

export type RoomPipeEvents = {
  /** A producer of the other node, piped in and ready to be consumed here. */
  producer: [Producer];
  peer: [RemotePeer];
  close: [];
};

/**
 * One room's media link to one other SFU node carrying the room: a PipeTransport (SRTP) on the
 * room's home router, connected to its twin on the other node. Each side sends its own producers
 * over (once each) and mirrors their pause, resume and close; consumers stay on their own node.
 * Closing either side closes the transport here, and with it every producer piped in.
 */
export class RoomPipe extends EventEmitter<RoomPipeEvents> {
  readonly remoteNodeId: string;
  readonly #options: RoomPipeOptions;
  readonly #transport: types.PipeTransport;
  /** Our producers piped over, by producer id. */
  readonly #sent = new Map<string, types.Consumer>();
  /** Theirs piped in, by producer id. */
  readonly #received = new Map<string, Producer>();
  #closed = false;
  #connected = false;
  /** Requests from the other node are applied in arrival order: a pause must not overtake its produce. */
  #inbound: Promise<unknown> = Promise.resolve();

  static async create(options: RoomPipeOptions): Promise<RoomPipe> {
    const transport = await options.router.createPipeTransport({
      listenInfo: { protocol: 'udp', ip: options.listenIp, announcedAddress: options.announcedAddress },
      enableSrtp: true,
    });
    return new RoomPipe(options, transport);
  }

  private constructor(options: RoomPipeOptions, transport: types.PipeTransport) {
    super();
    this.#options = options;
    this.remoteNodeId = options.remoteNodeId;
    this.#transport = transport;
    transport.observer.once('close', () => this.close(false));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Where the other node sends to, with the key it encrypts with. */
  endpoint(): PipeEndpoint {
    const { tuple, srtpParameters } = this.#transport;
    if (!srtpParameters) throw new Error('a room pipe is always SRTP');
    return { ip: tuple.localAddress ?? tuple.localIp, port: tuple.localPort, srtpParameters };
  }

  /** False until connected to the other end: an offer of this node's that is still unanswered. */
  get connected(): boolean {
    return this.#connected;
  }

  async connect(remote: PipeEndpoint): Promise<void> {
    await this.#transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters });
    this.#connected = true;
  }

  /** Pipes one of our producers (already on the home router) to the other node. Never throws. */
  async send(producer: Producer): Promise<void> {
    if (this.#closed || this.#sent.has(producer.id)) return;
    let consumer: types.Consumer;
    try {
      consumer = await this.#transport.consume({ producerId: producer.id });
    } catch (error) {
      this.#options.logger.debug({ err: error, producerId: producer.id }, 'could not pipe producer (closed meanwhile)');
      return;
    }
    this.#sent.set(producer.id, consumer);
    const producerId = producer.id;
    const state = (value: 'paused' | 'resumed' | 'closed') => void this.#tell('pipe.producerState', { ...this.#ref(), producerId, state: value });
    consumer.on('producerpause', () => state('paused'));
    consumer.on('producerresume', () => state('resumed'));
    consumer.on('producerclose', () => state('closed'));
    consumer.observer.once('close', () => this.#sent.delete(producerId));
    await this.#tell('pipe.produce', {
      ...this.#ref(),
      producerId,
      peerId: producer.appData.peerId,
      source: producer.appData.source,
      kind: consumer.kind,
      rtpParameters: toWire.rtpParameters(consumer.rtpParameters),
      paused: consumer.producerPaused,
    });
  }

  /** A producer of the other node arrives: it becomes a producer on our home router, with the same id. */
  receive(request: ControlRequest<'pipe.produce'>): Promise<void> {
    return this.#inOrder(() => this.#receive(request));
  }

  producerState(request: ControlRequest<'pipe.producerState'>): Promise<void> {
    return this.#inOrder(() => this.#producerState(request));
  }

  /** The other node's peer arrived or left: in order with its producers. */
  peer({ peerId, displayName }: ControlRequest<'pipe.peer'>): Promise<void> {
    return this.#inOrder(async () => {
      if (!this.#closed) this.emit('peer', displayName === undefined ? { peerId } : { peerId, displayName });
    });
  }

  /** Tells the other node that a peer of ours arrived (with its name) or left (without). Never throws. */
  announce(peer: RemotePeer): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#tell('pipe.peer', { ...this.#ref(), ...peer });
  }

  async #receive({ producerId, peerId, source, kind, rtpParameters, paused }: ControlRequest<'pipe.produce'>): Promise<void> {
    if (this.#closed || this.#received.has(producerId)) return;
    const producer = await this.#transport.produce<ProducerAppData>({
      id: producerId,
      kind,
      rtpParameters: toMediasoup.rtpParameters(rtpParameters),
      paused,
      appData: { peerId, source },
    });
    this.#received.set(producerId, producer);
    producer.observer.once('close', () => this.#received.delete(producerId));
    this.emit('producer', producer);
  }

  async #producerState({ producerId, state }: ControlRequest<'pipe.producerState'>): Promise<void> {
    const producer = this.#received.get(producerId);
    if (!producer) return;
    if (state === 'closed') producer.close();
    else if (state === 'paused') await producer.pause();
    else await producer.resume();
  }

  /** Idempotent. With `tell`, the other node closes its side too (this side closed first). */
  close(tell = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
    if (tell) void this.#tell('pipe.close', this.#ref());
    this.emit('close');
    this.removeAllListeners();
  }

  #inOrder(step: () => Promise<void>): Promise<void> {
    const done = this.#inbound.then(step);
    this.#inbound = done.catch(() => undefined);
    return done;
  }

  #ref(): { roomId: string; fromNodeId: string } {
    return { roomId: this.#options.roomId, fromNodeId: this.#options.localNodeId };
  }

  /** A request to the other node; a failure (it went away) is logged: its loss closes the pipe by itself. */
  async #tell<N extends ControlRequestName>(name: N, data: ControlRequest<N>): Promise<void> {
    try {
      await this.#options.channel(name, data);
    } catch (error) {
      this.#options.logger.warn({ err: error, remoteNodeId: this.remoteNodeId, request: name }, 'room pipe request failed');
    }
  }
}
