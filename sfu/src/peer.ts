import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import {
  missingPermissions,
  ProtocolError,
  SOURCE_COMPANION,
  type DtlsParameters,
  type IceParameters,
  type PeerInfo,
  type ProducerInfo,
  type ProducerSource,
  type RtpCapabilities,
  type TransportDirection,
  type TransportOptions,
  type VoiceEvent,
  type VoiceEventName,
  type VoicePermissions,
  type VoiceRequest,
} from '@concord/protocol';
import type { ConsumerAppData, ProducerAppData, RouterAppData, TransportAppData } from './app-data';
import { withClientInput } from './input';
import { toMediasoup, toWire } from './wire';

export type Producer = types.Producer<ProducerAppData>;
type Transport = types.WebRtcTransport<TransportAppData>;
type Consumer = types.Consumer<ConsumerAppData>;

/** The receiving side: what the client can receive is tied to the recv transport it was sent for. */
interface Receiver {
  transport: Transport;
  router: types.Router<RouterAppData>;
  rtpCapabilities?: types.RtpCapabilities;
  /** Producers consumed, or being consumed, on this transport. */
  producerIds: Set<string>;
}

/** The client session holding a peer, and the signaling connection that session is reached through. */
export interface PeerSession {
  id: string;
  connectionId: string;
}

export interface PeerOptions {
  id: string;
  session: PeerSession;
  displayName: string;
  permissions: VoicePermissions;
  /** The router (and its worker's WebRTC listener) a new transport of the given direction goes on. */
  placeTransport: (direction: TransportDirection) => Promise<{ router: types.Router<RouterAppData>; webRtcServer: types.WebRtcServer }>;
  /** Makes a producer of the room available on `router` (piping it there if it lives elsewhere). */
  reach: (producerId: string, router: types.Router<RouterAppData>) => Promise<void>;
  /** Delivers an event to this peer's client. */
  send: <E extends VoiceEventName>(event: E, data: VoiceEvent<E>) => void;
  logger: Logger;
}

export type PeerEvents = {
  /** The peer stayed disconnected for the whole grace period. */
  gracelapse: [];
};

/**
 * One participant of a room and the mediasoup objects it owns: at most one send and one recv
 * transport, its producers (one per source) and its consumers of other peers' producers.
 * Closing a transport closes what it carries, and mediasoup tells the consumers of a closed
 * producer, which is how other peers learn of it.
 */
export class Peer extends EventEmitter<PeerEvents> {
  readonly id: string;
  #session: PeerSession;
  #displayName: string;
  #permissions: VoicePermissions;
  readonly #options: PeerOptions;
  #sendTransport: Transport | undefined;
  #sendRouter: types.Router<RouterAppData> | undefined;
  #receiver: Receiver | undefined;
  readonly #producers = new Map<string, Producer>();
  /** Sources with a produce call in flight, so two racing calls cannot both pass the one-per-source check. */
  readonly #producingSources = new Set<ProducerSource>();
  readonly #consumers = new Map<string, Consumer>();
  #graceTimer: NodeJS.Timeout | undefined;
  #connected = true;
  #closed = false;

  constructor(options: PeerOptions) {
    super();
    this.#options = options;
    this.id = options.id;
    this.#session = options.session;
    this.#displayName = options.displayName;
    this.#permissions = options.permissions;
  }

  get session(): PeerSession {
    return this.#session;
  }

  get permissions(): VoicePermissions {
    return this.#permissions;
  }

  /** False between a socket drop and a rejoin: the peer keeps its place but owns no media. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The router the peer's producers live on (that of its send transport). */
  get sendRouter(): types.Router<RouterAppData> | undefined {
    return this.#sendRouter;
  }

  get producers(): Producer[] {
    return [...this.#producers.values()];
  }

  info(): PeerInfo {
    return { peerId: this.id, displayName: this.#displayName, producers: this.producers.map(producerInfo) };
  }

  async createTransport(direction: TransportDirection): Promise<TransportOptions> {
    const sessionId = this.#session.id;
    const { router, webRtcServer } = await this.#options.placeTransport(direction);
    const transport = await router.createWebRtcTransport<TransportAppData>({
      webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      appData: { peerId: this.id, direction },
    });
    if (!this.#holds(sessionId)) {
      transport.close();
      throw notInRoom();
    }
    // A second transport of a direction replaces the first (a client recovering from ICE failure).
    if (direction === 'send') {
      this.#sendTransport?.close();
      this.#sendTransport = transport;
      this.#sendRouter = router;
    } else {
      this.#receiver?.transport.close();
      this.#receiver = { transport, router, producerIds: new Set() };
    }
    transport.observer.once('close', () => {
      if (this.#sendTransport === transport) this.#sendTransport = undefined;
      if (this.#receiver?.transport === transport) this.#receiver = undefined;
    });
    return {
      transportId: transport.id,
      direction,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  async connectTransport(transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const transport = this.#transport(transportId);
    await withClientInput(() => transport.connect({ dtlsParameters: toMediasoup.dtlsParameters(dtlsParameters) }));
  }

  async restartIce(transportId: string): Promise<IceParameters> {
    return this.#transport(transportId).restartIce();
  }

  /** Records what the client can receive, then consumes the given producers (other peers' current ones). */
  async setRtpCapabilities(rtpCapabilities: RtpCapabilities, producers: Producer[]): Promise<void> {
    if (!this.#receiver) throw new ProtocolError('OUT_OF_ORDER', 'create the recv transport before sending RTP capabilities');
    this.#receiver.rtpCapabilities = toMediasoup.rtpCapabilities(rtpCapabilities);
    await Promise.all(producers.map((producer) => this.consume(producer)));
  }

  async produce({ transportId, kind, source, rtpParameters, paused }: VoiceRequest<'voice:produce'>): Promise<Producer> {
    const transport = this.#transport(transportId);
    if (transport.appData.direction !== 'send') throw new ProtocolError('OUT_OF_ORDER', 'produce on the send transport');
    // The request schema has made sure that kind, source and codecs agree.
    const refused = this.#refusal(source);
    if (refused) throw refused;
    if (this.#producingSources.has(source) || this.producers.some((producer) => producer.appData.source === source)) {
      throw new ProtocolError('OUT_OF_ORDER', `a ${source} producer exists already; close it first`);
    }
    const sessionId = this.#session.id;
    this.#producingSources.add(source);
    let producer: Producer;
    try {
      producer = await withClientInput(() =>
        transport.produce<ProducerAppData>({ kind, rtpParameters: toMediasoup.rtpParameters(rtpParameters), paused, appData: { peerId: this.id, source } }),
      );
    } finally {
      this.#producingSources.delete(source);
    }
    // While mediasoup worked, the peer may have left or changed hands, replaced the transport, lost
    // the permission or closed the producer this one goes with.
    const refusal = !this.#holds(sessionId)
      ? notInRoom()
      : transport.closed
        ? new ProtocolError('NOT_FOUND', `transport ${transportId} closed meanwhile`)
        : this.#refusal(source);
    if (refusal) {
      producer.close();
      throw refusal;
    }
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      // A closing transport takes its companions along by itself, and tells no one.
      if (transport.closed) return;
      for (const companion of this.producers) {
        if (SOURCE_COMPANION[companion.appData.source] === source) this.#closeProducer(companion, `the ${source} it goes with closed`);
      }
    });
    return producer;
  }

  async pauseProducer(producerId: string): Promise<void> {
    await this.#producer(producerId).pause();
  }

  async resumeProducer(producerId: string): Promise<void> {
    await this.#producer(producerId).resume();
  }

  closeProducer(producerId: string): void {
    this.#producer(producerId).close();
  }

  async pauseConsumer(consumerId: string): Promise<void> {
    await this.#consumer(consumerId).pause();
  }

  async resumeConsumer(consumerId: string): Promise<void> {
    await this.#consumer(consumerId).resume();
  }

  /**
   * Consumes another peer's producer if this peer can receive it (recv transport, capabilities,
   * a matching codec). Never throws: one peer failing to receive is no error of the producer.
   */
  async consume(producer: Producer): Promise<void> {
    const receiver = this.#receiver;
    const rtpCapabilities = receiver?.rtpCapabilities;
    if (!receiver || !rtpCapabilities || receiver.producerIds.has(producer.id)) return;
    receiver.producerIds.add(producer.id);
    let consumer: Consumer;
    try {
      // On the receiving router, which may not be the producer's: piped there first (once per router).
      await this.#options.reach(producer.id, receiver.router);
      if (!receiver.router.canConsume({ producerId: producer.id, rtpCapabilities })) {
        receiver.producerIds.delete(producer.id);
        this.#options.logger.debug({ peerId: this.id, producerId: producer.id }, 'peer cannot receive producer');
        return;
      }
      consumer = await receiver.transport.consume<ConsumerAppData>({
        producerId: producer.id,
        rtpCapabilities,
        // Paused until the client has its track ready, so the first frames are not lost.
        paused: true,
        appData: { peerId: this.id, producerPeerId: producer.appData.peerId, source: producer.appData.source },
      });
    } catch (error) {
      receiver.producerIds.delete(producer.id);
      // Expected when the producer or the transport closed meanwhile.
      this.#options.logger.debug({ peerId: this.id, producerId: producer.id, err: error }, 'consume failed');
      return;
    }
    if (consumer.closed) return;
    this.#adoptConsumer(consumer, receiver);
  }

  /**
   * Replaces the peer's permissions; producers no longer allowed are closed, and their companions
   * with them (their consumers' peers hear of it through mediasoup). Returns the ids of the closed
   * producers.
   */
  setPermissions(permissions: VoicePermissions): string[] {
    const changed = (Object.keys(permissions) as (keyof VoicePermissions)[]).some((key) => permissions[key] !== this.#permissions[key]);
    this.#permissions = permissions;
    const producers = this.producers;
    for (const producer of producers) {
      if (missingPermissions(permissions, producer.appData.source).length > 0) this.#closeProducer(producer, 'permission revoked');
    }
    if (changed) this.#options.send('voice:permissionsChanged', { permissions });
    return producers.filter((producer) => producer.closed).map((producer) => producer.id);
  }

  /** The socket dropped: release all media now, keep the identity for `graceMs`. */
  disconnect(graceMs: number): void {
    if (this.#closed || !this.#connected) return;
    this.#connected = false;
    this.#closeTransports();
    this.#graceTimer = setTimeout(() => this.emit('gracelapse'), graceMs);
  }

  /**
   * A join as this peer while it exists: back within the grace period, a repeated join of the same
   * session (which keeps its media), or another session taking the peer over from a connected one.
   * That session's media goes now, as with a disconnect; returns it so it can be told.
   */
  rejoin(session: PeerSession, displayName: string): PeerSession | undefined {
    const displaced = this.#connected && session.id !== this.#session.id ? this.#session : undefined;
    if (displaced) this.#closeTransports();
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#session = session;
    this.#connected = true;
    this.#displayName = displayName;
    return displaced;
  }

  /** Idempotent. Closes the peer's transports and with them its producers and consumers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#graceTimer);
    this.#closeTransports();
    this.removeAllListeners();
  }

  /**
   * Whether the session a request came from (the peer's when it began) still holds the peer, so a
   * request that outlived its session cannot leave media behind for the next one.
   */
  #holds(sessionId: string): boolean {
    return this.#connected && this.#session.id === sessionId;
  }

  #closeTransports(): void {
    this.#sendTransport?.close();
    this.#receiver?.transport.close();
  }

  #adoptConsumer(consumer: Consumer, receiver: Receiver): void {
    const { send } = this.#options;
    const ids = { consumerId: consumer.id, producerId: consumer.producerId };
    this.#consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      receiver.producerIds.delete(consumer.producerId);
    });
    consumer.on('producerclose', () => send('voice:consumerClosed', ids));
    consumer.on('producerpause', () => send('voice:consumerPaused', ids));
    consumer.on('producerresume', () => send('voice:consumerResumed', ids));
    consumer.on('score', ({ score, producerScore }) => send('voice:consumerScore', { consumerId: consumer.id, score, producerScore }));
    consumer.on('layerschange', (layers) =>
      send('voice:consumerLayers', { consumerId: consumer.id, spatialLayer: layers?.spatialLayer ?? null, temporalLayer: layers?.temporalLayer ?? null }),
    );
    send('voice:newConsumer', {
      ...ids,
      peerId: consumer.appData.producerPeerId,
      kind: consumer.kind,
      source: consumer.appData.source,
      rtpParameters: toWire.rtpParameters(consumer.rtpParameters),
      producerPaused: consumer.producerPaused,
    });
  }

  /** Why this peer may not produce `source` now, if it may not. */
  #refusal(source: ProducerSource): ProtocolError | undefined {
    const missing = missingPermissions(this.#permissions, source);
    if (missing.length > 0) return new ProtocolError('FORBIDDEN', `producing ${source} needs the ${missing.join(' and ')} permission`);
    const companion = SOURCE_COMPANION[source];
    if (companion && !this.producers.some((producer) => producer.appData.source === companion)) {
      return new ProtocolError('OUT_OF_ORDER', `${source} goes only with a live ${companion} producer of the same peer; produce that first`);
    }
    return undefined;
  }

  /** Closes a producer the client did not close itself, and tells the client why. Idempotent. */
  #closeProducer(producer: Producer, reason: string): void {
    if (producer.closed) return;
    producer.close();
    this.#options.send('voice:producerClosed', { producerId: producer.id, reason });
  }

  #transport(transportId: string): Transport {
    for (const transport of [this.#sendTransport, this.#receiver?.transport]) if (transport?.id === transportId) return transport;
    throw new ProtocolError('NOT_FOUND', `no transport ${transportId} of this peer`);
  }

  #producer(producerId: string): Producer {
    const producer = this.#producers.get(producerId);
    if (!producer) throw new ProtocolError('NOT_FOUND', `no producer ${producerId} of this peer`);
    return producer;
  }

  #consumer(consumerId: string): Consumer {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer) throw new ProtocolError('NOT_FOUND', `no consumer ${consumerId} of this peer`);
    return consumer;
  }
}

const notInRoom = (): ProtocolError => new ProtocolError('NOT_IN_ROOM', 'the peer left the room');

const producerInfo = (producer: Producer): ProducerInfo => ({
  producerId: producer.id,
  kind: producer.kind,
  source: producer.appData.source,
  paused: producer.paused,
});
