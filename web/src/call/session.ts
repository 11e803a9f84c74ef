import type { Device, types } from 'mediasoup-client';
import { ProtocolError, ProducerSource } from '@concord/protocol';
import type { JoinResponse, NewConsumer, RtpCapabilities, RtpParameters, TransportDirection } from '@concord/protocol';
import type { SignalingClient } from './signaling-client';
import type { LocalMedia } from './tracks';

type Transport = types.Transport;
type Producer = types.Producer;
type Consumer = types.Consumer<ConsumerAppData>;
type ProducerAppData = { source: ProducerSource; paused: boolean };
type ConsumerAppData = { peerId: string; source: ProducerSource };
/** How the transports reach the SFU: the grant's TURN servers and whether to use only them. */
export type IceNetwork = { iceServers: RTCIceServer[]; iceTransportPolicy: RTCIceTransportPolicy };

/** What a session reports to its room. */
export interface SessionObserver {
  remoteTrack(peerId: string, source: ProducerSource, track: MediaStreamTrack, paused: boolean): void;
  remoteTrackPaused(peerId: string, source: ProducerSource, paused: boolean): void;
  remoteTrackEnded(peerId: string, source: ProducerSource): void;
  /** Whether we want the media of this remote source now (its tile is visible); default true. */
  wanted?(peerId: string, source: ProducerSource): boolean;
  /** The server will not carry this source of ours: it closed the producer or refused it. */
  sourceRefused(source: ProducerSource): void;
  /** A transport's ICE went 'failed' or 'disconnected'. */
  mediaTrouble(): void;
  error(error: unknown): void;
}

const CLOSED = () => new ProtocolError('UNAVAILABLE', 'The call was interrupted.');

/**
 * One joined presence in a room: the mediasoup Device, a send and a recv transport, our producers
 * and the consumers the server created for us. It lives from voice:join until the room is left or
 * lost; a rejoin builds a new session. close() is idempotent and releases everything but the
 * local tracks (LocalMedia owns those).
 */
export class CallSession {
  private send?: Transport;
  private recv?: Transport;
  private readonly producers = new Map<ProducerSource, Producer>();
  /** null while recv.consume() is still running: a close that comes then wins when it ends. */
  private readonly consumers = new Map<string, Consumer | null>();
  private readonly unsubscribe: Array<() => void>;
  private closedFlag = false;

  constructor(
    private readonly signaling: SignalingClient,
    private readonly device: Device,
    private readonly observer: SessionObserver,
  ) {
    this.unsubscribe = [
      signaling.on('voice:newConsumer', (event) => this.consume(event).catch((e) => this.report(e))),
      signaling.on('voice:consumerClosed', ({ consumerId }) => this.closeConsumer(consumerId)),
      signaling.on('voice:consumerPaused', ({ consumerId }) => this.consumerPaused(consumerId, true)),
      signaling.on('voice:consumerResumed', ({ consumerId }) => this.consumerPaused(consumerId, false)),
      signaling.on('voice:producerClosed', ({ producerId }) => this.producerClosed(producerId)),
    ];
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  join(grant: string): Promise<JoinResponse> {
    return this.guard(this.signaling.request('voice:join', { grant }));
  }

  /** Loads the device, opens both transports and asks the server to start sending us media. */
  async setup(routerRtpCapabilities: JoinResponse['routerRtpCapabilities'], network: IceNetwork): Promise<void> {
    await this.guard(this.device.load({ routerRtpCapabilities: routerRtpCapabilities as types.RtpCapabilities }));
    this.send = await this.createTransport('send', network);
    this.recv = await this.createTransport('recv', network);
    await this.guard(this.signaling.request('voice:setRtpCapabilities', { rtpCapabilities: this.device.rtpCapabilities as RtpCapabilities }));
  }

  /** Brings our producers in line with the local media: publish, unpublish, pause, resume. */
  async publish(local: LocalMedia): Promise<void> {
    if (!this.send) return; // not set up yet: the room publishes once setup() is done
    for (const source of ProducerSource.options) {
      if (this.closedFlag) return;
      const track = local.track(source);
      const producer = this.producers.get(source);
      // A new device for a source that stays on: the same producer carries the new track.
      if (producer && track && producer.track !== track && !producer.closed) await producer.replaceTrack({ track });
      else if (producer && producer.track !== track) await this.unpublish(source, producer);
      const paused = source === 'mic' && local.micMuted;
      const current = this.producers.get(source);
      try {
        if (track && !current) await this.produce(source, track, paused);
        else if (current && current.paused !== paused) await this.setPaused(current, paused);
      } catch (error) {
        // Anything but a refusal means the connection is in trouble: stop here, a rejoin follows.
        if (!(error instanceof ProtocolError && error.code === 'FORBIDDEN')) throw error;
        this.observer.sourceRefused(source);
        this.observer.error(error);
      }
    }
  }

  /** Restarts ICE on every transport that has connected before, and waits until they are back. */
  async restartIce(timeoutMs: number): Promise<void> {
    const used = [this.send, this.recv].filter((t): t is Transport => !!t && t.connectionState !== 'new');
    await Promise.all(
      used.map(async (transport) => {
        const { iceParameters } = await this.guard(this.signaling.request('voice:restartIce', { transportId: transport.id }));
        await transport.restartIce({ iceParameters });
        await waitConnected(transport, timeoutMs);
      }),
    );
  }

  /** The recv transport's RTCPeerConnection stats, for diagnostics. */
  recvStats(): Promise<RTCStatsReport> | null {
    return this.recv && !this.recv.closed ? this.recv.getStats() : null;
  }

  /**
   * Pauses or resumes what we receive of one remote source (a tile scrolled away, a minimised
   * call): the server stops forwarding a paused consumer, which saves its uplink and our decoder.
   */
  async setReceiving(peerId: string, source: ProducerSource, receiving: boolean): Promise<void> {
    for (const [id, consumer] of this.consumers) {
      if (!consumer || consumer.appData.peerId !== peerId || consumer.appData.source !== source) continue;
      if (consumer.paused === !receiving) continue;
      if (receiving) consumer.resume();
      else consumer.pause();
      await this.signaling.request(receiving ? 'voice:resumeConsumer' : 'voice:pauseConsumer', { consumerId: id }).catch((error) => {
        if (this.consumers.has(id)) throw error;
      });
    }
  }

  /** Drops everything received from a peer that left. */
  dropPeer(peerId: string): void {
    for (const [id, consumer] of this.consumers) if (consumer?.appData.peerId === peerId) this.closeConsumer(id);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const off of this.unsubscribe) off();
    for (const id of [...this.consumers.keys()]) this.closeConsumer(id);
    this.send?.close();
    this.recv?.close();
    this.producers.clear();
  }

  private async createTransport(direction: TransportDirection, network: IceNetwork): Promise<Transport> {
    const options = await this.guard(this.signaling.request('voice:createTransport', { direction }));
    const params = {
      ...network,
      id: options.transportId,
      iceParameters: options.iceParameters,
      iceCandidates: options.iceCandidates as types.IceCandidate[],
      dtlsParameters: options.dtlsParameters as types.DtlsParameters,
    };
    const transport = direction === 'send' ? this.device.createSendTransport(params) : this.device.createRecvTransport(params);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling.request('voice:connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      const { source, paused } = appData as ProducerAppData;
      // mediasoup-client types codec parameters as unknown values; the protocol bounds them to scalars.
      this.signaling
        .request('voice:produce', { transportId: transport.id, kind, source, rtpParameters: rtpParameters as RtpParameters, paused })
        .then(({ producerId }) => callback({ id: producerId }), errback);
    });
    transport.on('connectionstatechange', (state) => {
      if (!this.closedFlag && (state === 'failed' || state === 'disconnected')) this.observer.mediaTrouble();
    });
    return transport;
  }

  private async produce(source: ProducerSource, track: MediaStreamTrack, paused: boolean): Promise<void> {
    if (!this.send) throw CLOSED();
    const appData: ProducerAppData = { source, paused };
    // stopTracks: false — the track belongs to LocalMedia and survives a rejoin.
    const producer = await this.send.produce({ track, stopTracks: false, appData });
    if (this.closedFlag) return producer.close();
    // The server created it paused; mirror that locally (no request needed).
    if (paused) producer.pause();
    this.producers.set(source, producer);
  }

  private async unpublish(source: ProducerSource, producer: Producer): Promise<void> {
    producer.close();
    this.producers.delete(source);
    await this.signaling.request('voice:closeProducer', { producerId: producer.id });
  }

  private async setPaused(producer: Producer, paused: boolean): Promise<void> {
    if (paused) producer.pause();
    else producer.resume();
    await this.signaling.request(paused ? 'voice:pauseProducer' : 'voice:resumeProducer', { producerId: producer.id });
  }

  private async consume(event: NewConsumer): Promise<void> {
    if (!this.recv || this.closedFlag) return;
    this.consumers.set(event.consumerId, null);
    let consumer: Consumer;
    try {
      consumer = await this.recv.consume<ConsumerAppData>({
        id: event.consumerId,
        producerId: event.producerId,
        kind: event.kind,
        rtpParameters: event.rtpParameters as types.RtpParameters,
        appData: { peerId: event.peerId, source: event.source },
      });
    } catch (error) {
      this.consumers.delete(event.consumerId);
      throw error;
    }
    if (!this.consumers.has(event.consumerId)) return consumer.close(); // closed while being created
    this.consumers.set(event.consumerId, consumer);
    this.observer.remoteTrack(event.peerId, event.source, consumer.track, event.producerPaused);
    // Media nobody looks at stays paused until its tile shows (see setReceiving).
    if (this.observer.wanted && !this.observer.wanted(event.peerId, event.source)) {
      consumer.pause();
      return;
    }
    await this.signaling.request('voice:resumeConsumer', { consumerId: event.consumerId }).catch((error) => {
      if (this.consumers.has(event.consumerId)) throw error; // else it closed meanwhile: nothing lost
    });
  }

  private closeConsumer(consumerId: string): void {
    const consumer = this.consumers.get(consumerId);
    this.consumers.delete(consumerId);
    if (!consumer) return;
    consumer.close();
    this.observer.remoteTrackEnded(consumer.appData.peerId, consumer.appData.source);
  }

  private consumerPaused(consumerId: string, paused: boolean): void {
    const consumer = this.consumers.get(consumerId);
    if (consumer) this.observer.remoteTrackPaused(consumer.appData.peerId, consumer.appData.source, paused);
  }

  private producerClosed(producerId: string): void {
    for (const [source, producer] of this.producers) {
      if (producer.id !== producerId) continue;
      producer.close();
      this.producers.delete(source);
      this.observer.sourceRefused(source);
    }
  }

  private report(error: unknown): void {
    if (!this.closedFlag) this.observer.error(error);
  }

  /** Rejects once the session is closed, so a setup step never completes into a dead session. */
  private async guard<T>(promise: Promise<T>): Promise<T> {
    const value = await promise;
    if (this.closedFlag) throw CLOSED();
    return value;
  }
}

function waitConnected(transport: Transport, timeoutMs: number): Promise<void> {
  if (transport.connectionState === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new ProtocolError('TIMEOUT', 'The media connection did not recover.')), timeoutMs);
    const failed = () => finish(new ProtocolError('UNAVAILABLE', 'The media connection failed.'));
    const onState = (state: types.ConnectionState) => {
      if (state === 'connected') finish();
      else if (state === 'failed') failed();
    };
    const finish = (error?: ProtocolError) => {
      clearTimeout(timer);
      transport.off('connectionstatechange', onState);
      transport.observer.off('close', failed);
      if (error) reject(error);
      else resolve();
    };
    transport.on('connectionstatechange', onState);
    // close() emits no state change, only the observer's 'close'.
    transport.observer.once('close', failed);
  });
}
