import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import {
  DISPLACED_REASON,
  ProtocolError,
  roomRequests,
  type ControlRequest,
  type JoinResponse,
  type PeerInfo,
  type RoomEventEnvelope,
  type RoomRequestName,
  type VoiceEvent,
  type VoiceEventName,
  type VoicePermissions,
  type VoiceRequest,
  type VoiceResponse,
} from '@concord/protocol';
import type { ProducerAppData } from './app-data';
import { parseRequest } from './input';
import { Peer, type Producer } from './peer';
import { RoomPipe, type PipeChannel, type RemotePeer } from './room-pipe';
import { RoomRouters } from './room-routers';
import type { TransportPlacementPolicy } from './transport-placement';
import { toWire } from './wire';
import type { WorkerPool } from './worker-pool';

/** What every room's router offers; clients negotiate down from here. */
const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } },
  ...['42e01f', '4d0032'].map(
    (profileLevelId): types.RouterRtpCodecCapability => ({
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': profileLevelId, 'level-asymmetry-allowed': 1 },
    }),
  ),
];

/** Speaking indication: loud enough (dBov) and refreshed often enough for a UI ring. */
const SPEAKING_THRESHOLD_DBOV = -70;
const SPEAKING_INTERVAL_MS = 400;
const ACTIVE_SPEAKER_INTERVAL_MS = 300;

export interface RoomOptions {
  roomId: string;
  pool: Pick<WorkerPool, 'createRouter' | 'streamsByWorker'>;
  policy: TransportPlacementPolicy;
  /** Whether the node takes one more transport (its capacity); refused with CAPACITY otherwise. */
  hasCapacity: () => boolean;
  peerGraceMs: number;
  logger: Logger;
}

/** What a room needs to pipe its media to another node carrying it. */
export interface PipeSetup {
  localNodeId: string;
  remoteNodeId: string;
  listenIp: string;
  announcedAddress: string | undefined;
  channel: PipeChannel;
}

export type RoomEvents = {
  /** An event for some or all of the room's clients, to be delivered by signaling. */
  roomevent: [RoomEventEnvelope];
  close: [reason: string];
};

type RoomRequestHandler<N extends RoomRequestName> = (peer: Peer, request: VoiceRequest<N>) => Promise<VoiceResponse<N>>;

const ownerOf = (producer: types.Producer): string => (producer.appData as ProducerAppData).peerId;

/**
 * A voice room on one worker: its router, the speaking observers and the peers. Every way out
 * (a peer leaving or lapsing, the room emptying, the worker dying, the node closing) ends in
 * `#remove()` or `close()`; every loss of a peer's client (its socket or its signaling connection
 * dropping, another session taking it over) closes the peer's media through the Peer.
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly id: string;
  readonly #routers: RoomRouters;
  readonly #hasCapacity: () => boolean;
  readonly #audioLevelObserver: types.AudioLevelObserver;
  readonly #activeSpeakerObserver: types.ActiveSpeakerObserver;
  readonly #peerGraceMs: number;
  readonly #logger: Logger;
  readonly #peers = new Map<string, Peer>();
  /** Pipes to the other nodes carrying the room, by node id. */
  readonly #pipes = new Map<string, RoomPipe>();
  /** Producers of peers on other nodes, piped in, by producer id. */
  readonly #remoteProducers = new Map<string, Producer>();
  /** Peers of the room on other nodes, by peer id: their names, and the pipe they are known through. */
  readonly #remotePeers = new Map<string, { displayName: string; pipe: RoomPipe }>();
  #dominantSpeakerId: string | null = null;
  #closed = false;

  get peerCount(): number {
    return this.#peers.size;
  }

  hasPeer(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  static async open({ roomId, pool, policy, hasCapacity, peerGraceMs, logger }: RoomOptions): Promise<Room> {
    const routers = await RoomRouters.open({ roomId, pool, policy, mediaCodecs: MEDIA_CODECS });
    const { router } = routers.home;
    try {
      const audioLevelObserver = await router.createAudioLevelObserver({ threshold: SPEAKING_THRESHOLD_DBOV, interval: SPEAKING_INTERVAL_MS });
      const activeSpeakerObserver = await router.createActiveSpeakerObserver({ interval: ACTIVE_SPEAKER_INTERVAL_MS });
      return new Room({ roomId, routers, hasCapacity, audioLevelObserver, activeSpeakerObserver, peerGraceMs, logger });
    } catch (error) {
      routers.close();
      throw error;
    }
  }

  private constructor(parts: {
    roomId: string;
    routers: RoomRouters;
    hasCapacity: () => boolean;
    audioLevelObserver: types.AudioLevelObserver;
    activeSpeakerObserver: types.ActiveSpeakerObserver;
    peerGraceMs: number;
    logger: Logger;
  }) {
    super();
    this.id = parts.roomId;
    this.#routers = parts.routers;
    this.#hasCapacity = parts.hasCapacity;
    this.#audioLevelObserver = parts.audioLevelObserver;
    this.#activeSpeakerObserver = parts.activeSpeakerObserver;
    this.#peerGraceMs = parts.peerGraceMs;
    this.#logger = parts.logger.child({ roomId: parts.roomId });

    this.#routers.once('workerclose', () => this.close('worker died'));
    this.#audioLevelObserver.on('volumes', (volumes) => this.#toRoom('voice:speaking', { peerIds: volumes.map(({ producer }) => ownerOf(producer)) }));
    this.#audioLevelObserver.on('silence', () => this.#toRoom('voice:speaking', { peerIds: [] }));
    this.#activeSpeakerObserver.on('dominantspeaker', ({ producer }) => {
      this.#dominantSpeakerId = ownerOf(producer);
      this.#toRoom('voice:activeSpeaker', { peerId: this.#dominantSpeakerId });
    });
    this.#logger.info('room opened');
  }

  /**
   * Idempotent per peer id: a repeated join (a reconnect within the grace period, another tab)
   * keeps the identity, and the joining session holds the peer from now on (see Peer.rejoin).
   * `connectionId` is the signaling connection that session is reached through.
   */
  join({ peerId, sessionId, displayName, permissions }: ControlRequest<'peer.join'>, connectionId: string): JoinResponse {
    if (this.#closed) throw new ProtocolError('UNAVAILABLE', 'the room is closing');
    const session = { id: sessionId, connectionId };
    let peer = this.#peers.get(peerId);
    if (peer) {
      const displaced = peer.rejoin(session, displayName);
      // The displaced client no longer holds the peer, so only its session can address it.
      if (displaced) {
        const data = { roomId: this.id, reason: DISPLACED_REASON };
        this.#deliver({ roomId: this.id, toSession: displaced.id, event: 'voice:roomClosed', data });
      }
      peer.setPermissions(permissions);
    } else {
      peer = new Peer({
        id: peerId,
        session,
        displayName,
        permissions,
        placeTransport: (direction) => this.#routers.placeTransport(direction),
        reach: (producerId, router) => this.#routers.reach(producerId, router),
        send: (event, data) => this.#deliver({ roomId: this.id, to: [peerId], event, data }),
        logger: this.#logger.child({ peerId }),
      });
      this.#peers.set(peerId, peer);
      peer.once('gracelapse', () => this.#remove(peerId));
      if (this.#peers.size > 1) this.#toRoom('voice:peerJoined', { peer: peer.info() }, peerId);
      for (const pipe of this.#pipes.values()) void pipe.announce({ peerId, displayName });
    }
    return {
      roomId: this.id,
      peerId,
      // Every router of every node is made with the same codecs, so this holds wherever the peer's transports go.
      routerRtpCapabilities: toWire.rtpCapabilities(this.#routers.home.router.rtpCapabilities),
      peers: [...[...this.#peers.values()].filter((other) => other !== peer).map((other) => other.info()), ...this.#remotePeerInfos()],
      permissions: peer.permissions,
    };
  }

  /** The session's socket dropped: the peer's media goes now, its place after the grace period. */
  disconnect(peerId: string, sessionId: string): void {
    this.#heldBy(peerId, sessionId)?.disconnect(this.#peerGraceMs);
  }

  /**
   * A signaling connection dropped (its process died or the network cut it): the clients it carried
   * cannot reach their peers, so each of those peers is disconnected as if its socket had dropped.
   */
  connectionLost(connectionId: string): void {
    for (const peer of this.#peers.values()) if (peer.session.connectionId === connectionId) peer.disconnect(this.#peerGraceMs);
  }

  /** The session leaves for good; it takes the peer along only if it still holds it. */
  leave(peerId: string, sessionId: string): void {
    if (this.#heldBy(peerId, sessionId)) this.#remove(peerId);
  }

  /** Takes out the listed peers (all, without a list) whoever holds them, connected or waiting out their grace period. */
  remove(peerIds: readonly string[] = [...this.#peers.keys()]): void {
    for (const peerId of peerIds) this.#remove(peerId);
  }

  setPermissions(peerId: string, permissions: VoicePermissions): { closedProducerIds: string[] } {
    return { closedProducerIds: this.#member(peerId).setPermissions(permissions) };
  }

  /** A room request of a connected peer from the session holding it, validated against its protocol schema. */
  async request<N extends RoomRequestName>(peerId: string, sessionId: string, name: N, payload: unknown): Promise<VoiceResponse<N>> {
    const peer = this.#member(peerId);
    if (peer.session.id !== sessionId) throw new ProtocolError('NOT_IN_ROOM', 'replaced by another session');
    if (!peer.connected) throw new ProtocolError('NOT_IN_ROOM', 'the peer is disconnected; join again');
    // Parsed with the schema of `name`, so it is that request; TypeScript cannot correlate the two.
    const request = parseRequest<unknown>(roomRequests[name].request, payload) as VoiceRequest<N>;
    const handler: RoomRequestHandler<N> = this.#handlers[name];
    return handler(peer, request);
  }

  /** Idempotent. Tells the remaining peers why, then closes the router and with it all media. */
  close(reason: string): void {
    if (this.#closed) return;
    if (this.#peers.size > 0) this.#toRoom('voice:roomClosed', { roomId: this.id, reason });
    this.#closed = true;
    // The other nodes carrying the room keep it: they only lose what this side piped to them.
    for (const pipe of this.#pipes.values()) pipe.close();
    // The routers first: their transports then close as 'routerclose', which tells no one, instead of
    // each producer closing and sending consumerClosed to peers that are being dropped anyway.
    this.#routers.close();
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
    this.#logger.info({ reason }, 'room closed');
    this.emit('close', reason);
  }

  readonly #handlers: { [N in RoomRequestName]: RoomRequestHandler<N> } = {
    'voice:createTransport': (peer, { direction }) => {
      if (!this.#hasCapacity()) throw new ProtocolError('CAPACITY', 'this SFU node is at capacity');
      return peer.createTransport(direction);
    },
    'voice:connectTransport': async (peer, { transportId, dtlsParameters }) => {
      await peer.connectTransport(transportId, dtlsParameters);
      return {};
    },
    'voice:restartIce': async (peer, { transportId }) => ({ iceParameters: await peer.restartIce(transportId) }),
    'voice:setRtpCapabilities': async (peer, { rtpCapabilities }) => {
      await peer.setRtpCapabilities(rtpCapabilities, this.#producersBesides(peer));
      return {};
    },
    'voice:produce': async (peer, request) => {
      const producer = await peer.produce(request);
      // Produced on the peer's send transport, so its router is known.
      this.#routers.locate(producer, peer.sendRouter!);
      this.#publish(producer);
      for (const pipe of this.#pipes.values()) void this.#pipeOut(pipe, producer);
      return { producerId: producer.id };
    },
    'voice:pauseProducer': async (peer, { producerId }) => {
      await peer.pauseProducer(producerId);
      return {};
    },
    'voice:resumeProducer': async (peer, { producerId }) => {
      await peer.resumeProducer(producerId);
      return {};
    },
    'voice:closeProducer': async (peer, { producerId }) => {
      peer.closeProducer(producerId);
      return {};
    },
    'voice:pauseConsumer': async (peer, { consumerId }) => {
      await peer.pauseConsumer(consumerId);
      return {};
    },
    'voice:resumeConsumer': async (peer, { consumerId }) => {
      await peer.resumeConsumer(consumerId);
      return {};
    },
  };

  /** A new producer (of a peer here, or piped in) reaches the speaking observers (mics only) and every other peer that receives. */
  #publish(producer: Producer): void {
    if (producer.appData.source === 'mic') void this.#observe(producer);
    for (const peer of this.#peers.values()) {
      if (peer.id !== producer.appData.peerId) void peer.consume(producer);
    }
  }

  #producersBesides(peer: Peer): Producer[] {
    const local = [...this.#peers.values()].filter((other) => other !== peer).flatMap((other) => other.producers);
    return [...local, ...this.#remoteProducers.values()];
  }

  /** The observers sit on the home router: a mic on another router is piped there first. */
  async #observe(producer: Producer): Promise<void> {
    try {
      await this.#routers.reach(producer.id, this.#routers.home.router);
      for (const observer of [this.#audioLevelObserver, this.#activeSpeakerObserver]) await observer.addProducer({ producerId: producer.id });
    } catch (error) {
      this.#logger.debug({ err: error, producerId: producer.id }, 'could not observe producer (closed meanwhile)');
    }
  }

  /**
   * Opens this room's pipe to another node carrying it (both sides call this: the offering node
   * before it sends its offer, the accepting one on receipt). Producers piped in are published
   * here like local ones; once connected, every local producer is piped out, and every later one.
   */
  async openPipe(setup: PipeSetup, accepting: boolean): Promise<RoomPipe> {
    if (this.#closed) throw new ProtocolError('UNAVAILABLE', 'the room is closing');
    this.#makeWayForPipe(setup, accepting);
    const pipe = await RoomPipe.create({ ...setup, roomId: this.id, router: this.#routers.home.router, logger: this.#logger.child({ remoteNodeId: setup.remoteNodeId }) });
    try {
      if (this.#closed) throw new ProtocolError('UNAVAILABLE', 'the room is closing');
      this.#makeWayForPipe(setup, accepting);
    } catch (error) {
      pipe.close(false);
      throw error;
    }
    this.#pipes.set(setup.remoteNodeId, pipe);
    pipe.on('producer', (producer) => {
      this.#routers.locate(producer, this.#routers.home.router);
      this.#remoteProducers.set(producer.id, producer);
      producer.observer.once('close', () => this.#remoteProducers.delete(producer.id));
      this.#publish(producer);
    });
    pipe.on('peer', (peer) => this.#remotePeer(pipe, peer));
    pipe.once('close', () => {
      if (this.#pipes.get(setup.remoteNodeId) === pipe) this.#pipes.delete(setup.remoteNodeId);
      for (const [peerId, known] of this.#remotePeers) if (known.pipe === pipe) this.#remotePeer(pipe, { peerId });
    });
    return pipe;
  }

  /**
   * One pipe per node pair and room. Two nodes opening the room at the same moment offer each
   * other a pipe at once: the offer of the node with the lower id wins, on both sides (the other
   * node drops its own unanswered offer for it, and that offer is then refused as a CONFLICT).
   */
  #makeWayForPipe({ localNodeId, remoteNodeId }: PipeSetup, accepting: boolean): void {
    const existing = this.#pipes.get(remoteNodeId);
    if (!existing) return;
    if (accepting && !existing.connected && remoteNodeId < localNodeId) {
      existing.close(false);
      return;
    }
    throw new ProtocolError('CONFLICT', `room ${this.id} is piped to ${remoteNodeId} already`);
  }

  /** The room's pipe to that node, if any. */
  pipe(remoteNodeId: string): RoomPipe | undefined {
    return this.#pipes.get(remoteNodeId);
  }

  /** Introduces this room's peers, and sends their producers, over a newly connected pipe. */
  pipeOutAll(pipe: RoomPipe): void {
    for (const peer of this.#peers.values()) {
      if (peer.connected) void pipe.announce({ peerId: peer.id, displayName: peer.info().displayName });
    }
    for (const peer of this.#peers.values()) for (const producer of peer.producers) void this.#pipeOut(pipe, producer);
  }

  /**
   * A peer on another node arrived (with its name) or left: the peers here see it join or leave
   * like one of their own. A peer that is also here (moving between nodes) is this node's to tell.
   */
  #remotePeer(pipe: RoomPipe, { peerId, displayName }: RemotePeer): void {
    const known = this.#remotePeers.get(peerId);
    if (displayName !== undefined) {
      this.#remotePeers.set(peerId, { displayName, pipe });
      if (!known && !this.#peers.has(peerId)) this.#toRoom('voice:peerJoined', { peer: this.#remotePeerInfo(peerId, displayName) });
    } else if (known?.pipe === pipe) {
      this.#remotePeers.delete(peerId);
      if (!this.#peers.has(peerId)) this.#toRoom('voice:peerLeft', { peerId });
    }
  }

  #remotePeerInfos(): PeerInfo[] {
    return [...this.#remotePeers].filter(([peerId]) => !this.#peers.has(peerId)).map(([peerId, { displayName }]) => this.#remotePeerInfo(peerId, displayName));
  }

  #remotePeerInfo(peerId: string, displayName: string): PeerInfo {
    const producers = [...this.#remoteProducers.values()].filter((producer) => producer.appData.peerId === peerId);
    return { peerId, displayName, producers: producers.map((producer) => ({ producerId: producer.id, kind: producer.kind, source: producer.appData.source, paused: producer.paused })) };
  }

  /** Piped producers enter other nodes from the home router. Only this node's own producers go out: the mesh has no relays. */
  async #pipeOut(pipe: RoomPipe, producer: Producer): Promise<void> {
    try {
      await this.#routers.reach(producer.id, this.#routers.home.router);
    } catch (error) {
      this.#logger.debug({ err: error, producerId: producer.id }, 'could not bring producer to the home router (closed meanwhile)');
      return;
    }
    await pipe.send(producer);
  }

  /** The peer, if `sessionId` holds it: a session that was replaced speaks for the peer no more. */
  #heldBy(peerId: string, sessionId: string): Peer | undefined {
    const peer = this.#peers.get(peerId);
    return peer?.session.id === sessionId ? peer : undefined;
  }

  #remove(peerId: string): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    this.#peers.delete(peerId);
    peer.close();
    if (this.#peers.size === 0) {
      this.close('empty');
      return;
    }
    this.#toRoom('voice:peerLeft', { peerId });
    for (const pipe of this.#pipes.values()) void pipe.announce({ peerId });
    if (this.#dominantSpeakerId === peerId) {
      this.#dominantSpeakerId = null;
      this.#toRoom('voice:activeSpeaker', { peerId: null });
    }
  }

  #member(peerId: string): Peer {
    const peer = this.#peers.get(peerId);
    if (!peer) throw new ProtocolError('NOT_IN_ROOM', `peer ${peerId} is not in room ${this.id}`);
    return peer;
  }

  #toRoom<E extends VoiceEventName>(event: E, data: VoiceEvent<E>, except?: string): void {
    this.#deliver(except ? { roomId: this.id, except, event, data } : { roomId: this.id, event, data });
  }

  #deliver<E extends VoiceEventName>(envelope: RoomEventEnvelope<E>): void {
    if (!this.#closed) this.emit('roomevent', envelope as RoomEventEnvelope);
  }
}
