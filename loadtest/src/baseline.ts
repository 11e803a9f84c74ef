import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import {
  ProtocolError,
  type JoinResponse,
  type ProducerSource,
  type RoomRequestName,
  type VoiceEvent,
  type VoiceRequest,
  type VoiceResponse,
} from '@concord/protocol';
import { freePortBase } from '@concord/testkit/src/ports';
import { toMediasoup, toWire } from '@concord/sfu/src/wire';
import type { ConnectControl, ControlEventName, RoomControl } from './client/control';
import type { SfuProcesses } from './target/platform';

/**
 * Bare mediasoup, for comparison: one worker with a WebRtcServer (as each of our SFU's workers has),
 * a Router per room, WebRtcTransports, producers and consumers — and nothing of ours: no signaling
 * hop, no registry, no grants, no speaking observers. It answers the same voice requests in process,
 * so the same werift clients load it the same way, and platform / baseline is our overhead.
 */

const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90_000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
];

interface BarePeer {
  id: string;
  events: EventEmitter;
  transports: Map<string, types.WebRtcTransport>;
  recv?: types.WebRtcTransport;
  rtpCapabilities?: types.RtpCapabilities;
  producers: types.Producer<{ peerId: string; source: ProducerSource }>[];
  consumers: Map<string, types.Consumer>;
  /** Producers consumed or being consumed: a producer arriving while capabilities are set is consumed once. */
  consumed: Set<string>;
}

interface BareRoom {
  router: types.Router;
  peers: Map<string, BarePeer>;
}

export class BareSfu {
  /** The UDP and TCP port of the WebRtcServer every transport shares. */
  readonly port: number;
  readonly #worker: types.Worker;
  readonly #webRtcServer: types.WebRtcServer;
  readonly #rooms = new Map<string, Promise<BareRoom>>();

  private constructor(worker: types.Worker, webRtcServer: types.WebRtcServer, port: number) {
    this.#worker = worker;
    this.#webRtcServer = webRtcServer;
    this.port = port;
  }

  /**
   * `socketBufferBytes` sets the WebRtcServer's socket buffers (the kernel's default otherwise, as
   * in our SFU): a what-if for the SFU's settings, not a like-for-like comparison.
   */
  static async start(options: { socketBufferBytes?: number } = {}): Promise<BareSfu> {
    const port = await freePortBase(1);
    const worker = await mediasoup.createWorker({ logLevel: 'warn' });
    const buffers = options.socketBufferBytes ? { recvBufferSize: options.socketBufferBytes, sendBufferSize: options.socketBufferBytes } : {};
    const webRtcServer = await worker.createWebRtcServer({ listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip: '127.0.0.1', port, ...buffers })) });
    return new BareSfu(worker, webRtcServer, port);
  }

  processes(): SfuProcesses {
    return { nodePid: undefined, workerPids: [this.#worker.pid], otherPids: [] };
  }

  /** The clients' way in: no accounts, no grants; the user name is the peer id. */
  readonly connect: ConnectControl = async (userName, roomName) => new BareControl(this, userName, roomName);

  room(name: string): Promise<BareRoom> {
    let room = this.#rooms.get(name);
    if (!room) {
      room = this.#worker.createRouter({ mediaCodecs: MEDIA_CODECS }).then((router) => ({ router, peers: new Map() }));
      this.#rooms.set(name, room);
    }
    return room;
  }

  get webRtcServer(): types.WebRtcServer {
    return this.#webRtcServer;
  }

  /** Idempotent; resolves once the worker process has exited. */
  async stop(): Promise<void> {
    if (this.#worker.closed) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('subprocessclose', () => resolve()));
    this.#worker.close();
    await exited;
  }
}

class BareControl implements RoomControl {
  readonly #sfu: BareSfu;
  readonly #roomName: string;
  readonly #peer: BarePeer;
  #room: BareRoom | undefined;

  constructor(sfu: BareSfu, peerId: string, roomName: string) {
    this.#sfu = sfu;
    this.#roomName = roomName;
    this.#peer = { id: peerId, events: new EventEmitter(), transports: new Map(), producers: [], consumers: new Map(), consumed: new Set() };
  }

  async join(): Promise<JoinResponse> {
    const room = await this.#sfu.room(this.#roomName);
    this.#room = room;
    room.peers.set(this.#peer.id, this.#peer);
    return {
      roomId: this.#roomName,
      peerId: this.#peer.id,
      routerRtpCapabilities: toWire.rtpCapabilities(room.router.rtpCapabilities),
      peers: [],
      permissions: { speak: true, video: true, screen: true },
    };
  }

  async request<N extends RoomRequestName>(name: N, data: VoiceRequest<N>): Promise<VoiceResponse<N>> {
    // Each branch answers the request named; TypeScript cannot narrow N through the switch.
    return (await this.#handle(name, data as VoiceRequest<RoomRequestName>)) as VoiceResponse<N>;
  }

  on<E extends ControlEventName>(event: E, handler: (data: VoiceEvent<E>) => void): void {
    this.#peer.events.on(event, handler);
  }

  async close(): Promise<void> {
    for (const transport of this.#peer.transports.values()) transport.close();
    this.#room?.peers.delete(this.#peer.id);
    if (this.#room?.peers.size === 0) this.#room.router.close();
  }

  async #handle(name: RoomRequestName, data: VoiceRequest<RoomRequestName>): Promise<unknown> {
    const room = this.#room;
    if (!room) throw new ProtocolError('NOT_IN_ROOM', 'join first');
    const peer = this.#peer;
    switch (name) {
      case 'voice:createTransport': {
        const { direction } = data as VoiceRequest<'voice:createTransport'>;
        const transport = await room.router.createWebRtcTransport({ webRtcServer: this.#sfu.webRtcServer, enableUdp: true, enableTcp: true, preferUdp: true });
        peer.transports.set(transport.id, transport);
        if (direction === 'recv') peer.recv = transport;
        const { id, iceParameters, iceCandidates, dtlsParameters } = transport;
        return { transportId: id, direction, iceParameters, iceCandidates, dtlsParameters };
      }
      case 'voice:connectTransport': {
        const { transportId, dtlsParameters } = data as VoiceRequest<'voice:connectTransport'>;
        await this.#transport(transportId).connect({ dtlsParameters: toMediasoup.dtlsParameters(dtlsParameters) });
        return {};
      }
      case 'voice:produce': {
        const { transportId, kind, source, rtpParameters } = data as VoiceRequest<'voice:produce'>;
        const producer = await this.#transport(transportId).produce({ kind, rtpParameters: toMediasoup.rtpParameters(rtpParameters), appData: { peerId: peer.id, source } });
        peer.producers.push(producer);
        for (const other of room.peers.values()) if (other !== peer) await consume(other, producer, room.router);
        return { producerId: producer.id };
      }
      case 'voice:setRtpCapabilities': {
        peer.rtpCapabilities = toMediasoup.rtpCapabilities((data as VoiceRequest<'voice:setRtpCapabilities'>).rtpCapabilities);
        for (const other of room.peers.values()) if (other !== peer) for (const producer of other.producers) await consume(peer, producer, room.router);
        return {};
      }
      case 'voice:resumeConsumer': {
        await peer.consumers.get((data as VoiceRequest<'voice:resumeConsumer'>).consumerId)?.resume();
        return {};
      }
      default:
        throw new ProtocolError('BAD_REQUEST', `${name} is not part of the baseline`);
    }
  }

  #transport(id: string): types.WebRtcTransport {
    const transport = this.#peer.transports.get(id);
    if (!transport) throw new ProtocolError('NOT_FOUND', `no transport ${id}`);
    return transport;
  }
}

/** Consumes a producer for a peer that can receive, paused, and tells the peer — as our SFU does. */
async function consume(peer: BarePeer, producer: types.Producer<{ peerId: string; source: ProducerSource }>, router: types.Router): Promise<void> {
  const { recv, rtpCapabilities } = peer;
  if (!recv || !rtpCapabilities || peer.consumed.has(producer.id) || !router.canConsume({ producerId: producer.id, rtpCapabilities })) return;
  peer.consumed.add(producer.id);
  const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities, paused: true });
  peer.consumers.set(consumer.id, consumer);
  const event: VoiceEvent<'voice:newConsumer'> = {
    consumerId: consumer.id,
    producerId: producer.id,
    peerId: producer.appData.peerId,
    kind: consumer.kind,
    source: producer.appData.source,
    rtpParameters: toWire.rtpParameters(consumer.rtpParameters),
    producerPaused: consumer.producerPaused,
  };
  peer.events.emit('voice:newConsumer', event);
}
