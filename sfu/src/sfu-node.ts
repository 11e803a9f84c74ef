import { isIPv6 } from 'node:net';
import pino, { type Logger } from 'pino';
import { loadScore, NODE_DRAINING_REASON, ProtocolError, type NodeLoad, type SfuNodeInfo } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { SfuConfig } from './config';
import { ControlServer, type ControlHandlers } from './control-server';
import { evacuate, type EvacuationReport } from './evacuation';
import { SfuMetrics, type SfuMetricsOptions } from './metrics';
import { NodePipes } from './node-pipes';
import { Room } from './room';
import { WorkerSharePolicy, type TransportPlacementPolicy } from './transport-placement';
import { WorkerPool, type WorkerSummary } from './worker-pool';

/** A node-to-node pipe request (they are quick local mediasoup calls) that takes longer means the node is gone. */
const PIPE_REQUEST_TIMEOUT_MS = 5_000;

/** `voice:roomClosed` reason when a split room closes on this node: its clients rejoin, on the node holding it. */
export const ROOM_MOVED_REASON = 'the room moved to another node';

export interface SfuNodeOptions {
  /** Defaults to a pino JSON logger at the configured level. */
  logger?: Logger;
  /** Where a room's transports go among the workers; default WorkerSharePolicy (SFU_CAPACITY / SFU_WORKERS per worker). */
  transportPlacement?: TransportPlacementPolicy;
  metrics?: SfuMetricsOptions;
}

/**
 * An SFU node: the worker pool, the rooms on it and the control server signaling talks to. It
 * announces itself in the room registry every heartbeat and releases rooms there as they close.
 */
export class SfuNode {
  readonly config: SfuConfig;
  /** Served as /metrics by the process hosting the node. */
  readonly metrics: SfuMetrics;
  readonly #registry: RoomRegistry;
  readonly #logger: Logger;
  readonly #pool: WorkerPool;
  readonly #transportPlacement: TransportPlacementPolicy;
  /** Rooms that continue on other nodes: the pipes to them. */
  readonly #nodePipes: NodePipes;
  readonly #rooms = new Map<string, Room>();
  /** Rooms whose router is being created, so racing joins share one. */
  readonly #opening = new Map<string, Promise<Room>>();
  #control: ControlServer | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeat: Promise<void> | undefined;
  /** 0 until `start()`; a node starts once. */
  #startedAt = 0;
  #draining = false;
  /** Rooms let go in the registry while their peers move elsewhere: heartbeats no longer claim them. */
  readonly #leaving = new Set<string>();
  #evacuation: Promise<EvacuationReport> | undefined;
  #closing: Promise<void> | undefined;

  constructor(config: SfuConfig, registry: RoomRegistry, options: SfuNodeOptions = {}) {
    this.config = config;
    this.#registry = registry;
    this.#logger = (options.logger ?? pino({ level: config.shell.logLevel, base: { service: 'sfu' } })).child({ nodeId: config.nodeId });
    this.#pool = new WorkerPool({
      workers: config.workers,
      rtcPortBase: config.rtcPortBase,
      listenIp: config.listenIp,
      announcedAddress: config.announcedAddress,
      socketBuffers: config.socketBuffers,
      logger: this.#logger,
    });
    this.#transportPlacement =
      options.transportPlacement ?? new WorkerSharePolicy({ workerShare: config.capacity / config.workers, peersPerRouter: config.roomPeersPerRouter });
    this.#nodePipes = new NodePipes({
      nodeId: config.nodeId,
      secret: config.secret,
      listenIp: config.listenIp,
      announcedAddress: config.announcedAddress,
      timeoutMs: PIPE_REQUEST_TIMEOUT_MS,
      registry,
      room: (roomId) => this.#rooms.get(roomId),
      rooms: () => this.#rooms.values(),
      logger: this.#logger,
    });
    // The dead worker's rooms closed through their routers; the registry should see the drop now.
    this.#pool.on('workerdied', () => {
      this.metrics.workerDied();
      void this.#publish();
    });
    this.metrics = new SfuMetrics(
      {
        id: config.nodeId,
        capacity: config.capacity,
        draining: () => this.#draining,
        running: () => this.#pool.running(),
        peersIn: (roomId) => this.#rooms.get(roomId)?.peerCount ?? 0,
      },
      options.metrics,
    );
  }

  get id(): string {
    return this.config.nodeId;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** The URL signaling connects to; known once `start()` has resolved. */
  get controlUrl(): string {
    if (!this.#control) throw new Error('the SFU node has not started');
    const host = isIPv6(this.config.controlHost) ? `[${this.config.controlHost}]` : this.config.controlHost;
    return `http://${host}:${this.#control.port}`;
  }

  /** Starts the workers and the control server, then registers the node. */
  async start(): Promise<void> {
    if (this.#startedAt || this.#closing) throw new Error('an SFU node starts once');
    this.#startedAt = Date.now();
    try {
      await this.#pool.start();
      this.#control = await ControlServer.listen({
        host: this.config.controlListenIp,
        port: this.config.controlPort,
        secret: this.config.secret,
        handlers: this.#handlers,
        onConnectionLost: (connectionId) => {
          for (const room of this.#rooms.values()) room.connectionLost(connectionId);
        },
        logger: this.#logger,
      });
      // The first heartbeat may fail loudly: a node the registry cannot see is of no use.
      await this.#registry.heartbeat(this.info(), this.config.heartbeatTtlMs);
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#heartbeatTimer = setInterval(() => void this.#publish(), this.config.heartbeatIntervalMs);
    this.metrics.start();
    const { workers, rtcPortBase } = this.config;
    const rtcPorts = `${rtcPortBase}-${rtcPortBase + workers - 1}`;
    this.#logger.info(
      { controlUrl: this.controlUrl, workers, rtcPorts },
      `SFU node ${this.id} ready: control ${this.controlUrl}, ${workers} workers on UDP+TCP ports ${rtcPorts}`,
    );
  }

  /** Takes no new rooms from now on (placement skips draining nodes); current rooms carry on. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#publish();
  }

  /**
   * Drains the node and moves its calls to other nodes (see evacuate): room by room, in batches of
   * SFU_DRAIN_BATCH peers, each room released in the registry and its peers told to rejoin
   * (`voice:roomClosed` with NODE_DRAINING_REASON), which places it on another node. Resolves once
   * no room is left, at the latest SFU_DRAIN_TIMEOUT_MS after it began. Idempotent.
   */
  evacuate(): Promise<EvacuationReport> {
    this.#evacuation ??= this.drain().then(async () => {
      const startedAt = Date.now();
      const report = await evacuate(
        {
          rooms: () => [...this.#rooms.values()],
          elsewhere: () => this.#otherNodeAvailable(),
          move: (roomId) => this.#moveAway(roomId),
        },
        { deadline: startedAt + this.config.drainTimeoutMs, batchPeers: this.config.drainBatch.peers, intervalMs: this.config.drainBatch.intervalMs, logger: this.#logger },
      );
      this.#logger.info({ ...report, durationMs: Date.now() - startedAt }, `drained: ${report.moved} rooms moved in ${report.batches} batches, ${report.forced} at the deadline`);
      return report;
    });
    return this.#evacuation;
  }

  async #otherNodeAvailable(): Promise<boolean> {
    const live = await this.#registry.liveNodes().catch(() => []);
    return live.some((node) => node.id !== this.id && !node.draining && loadScore(node.load) < node.capacity);
  }

  /** Released first, so that the peers' rejoins, which follow the close at once, are placed elsewhere. */
  async #moveAway(roomId: string): Promise<void> {
    this.#leaving.add(roomId);
    await this.#registry.releaseRoom(roomId, this.id).catch((error: unknown) => this.#logger.warn({ err: error, roomId }, 'could not release the room in the registry'));
    this.#rooms.get(roomId)?.close(NODE_DRAINING_REASON);
  }

  load(): NodeLoad {
    return this.#pool.load();
  }

  info(): SfuNodeInfo {
    return {
      id: this.id,
      controlUrl: this.controlUrl,
      capacity: this.config.capacity,
      load: this.load(),
      draining: this.#draining,
      startedAt: this.#startedAt,
    };
  }

  workers(): WorkerSummary[] {
    return this.#pool.workers();
  }

  /** Idempotent. Deregisters, tells every room's peers, then stops the control server and workers. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  readonly #handlers: ControlHandlers = {
    'peer.join': async (request, connection) => {
      // A new peer past capacity is placed elsewhere by signaling (a peer already here may rejoin).
      if (!this.#rooms.get(request.roomId)?.hasPeer(request.peerId) && !this.#hasCapacity()) {
        if (!this.#rooms.has(request.roomId)) void this.#registry.releaseRoom(request.roomId, this.id).catch(() => undefined);
        throw new ProtocolError('CAPACITY', `SFU node ${this.id} is at capacity`);
      }
      const room = await this.#roomFor(request.roomId);
      const joined = room.join(request, connection.id);
      // Lost while the room was opening, the connection found no peer of its own to disconnect then.
      if (!connection.connected) room.connectionLost(connection.id);
      return joined;
    },
    'peer.disconnect': async ({ roomId, peerId, sessionId }) => {
      this.#rooms.get(roomId)?.disconnect(peerId, sessionId);
      return {};
    },
    'peer.leave': async ({ roomId, peerId, sessionId }) => {
      this.#rooms.get(roomId)?.leave(peerId, sessionId);
      return {};
    },
    'room.remove': async ({ roomId, peerIds }) => {
      this.#rooms.get(roomId)?.remove(peerIds);
      return {};
    },
    'peer.setPermissions': async ({ roomId, peerId, permissions }) => this.#room(roomId).setPermissions(peerId, permissions),
    'peer.request': async ({ roomId, peerId, sessionId, name, data }) => this.#room(roomId).request(peerId, sessionId, name, data),
    'pipe.open': (request, connection) => this.#nodePipes.handlers['pipe.open'](request, connection),
    'pipe.produce': (request, connection) => this.#nodePipes.handlers['pipe.produce'](request, connection),
    'pipe.producerState': (request, connection) => this.#nodePipes.handlers['pipe.producerState'](request, connection),
    'pipe.peer': (request, connection) => this.#nodePipes.handlers['pipe.peer'](request, connection),
    'pipe.close': (request, connection) => this.#nodePipes.handlers['pipe.close'](request, connection),
  };

  /** Whether the node takes one more peer or transport: the streams it carries against SFU_CAPACITY. */
  #hasCapacity(): boolean {
    return loadScore(this.load()) < this.config.capacity;
  }

  #room(roomId: string): Room {
    const room = this.#rooms.get(roomId);
    if (!room) throw new ProtocolError('NOT_IN_ROOM', `room ${roomId} is not open on this node`);
    return room;
  }

  async #roomFor(roomId: string): Promise<Room> {
    const room = this.#rooms.get(roomId);
    if (room) return room;
    if (this.#draining || this.#closing) throw new ProtocolError('UNAVAILABLE', 'this SFU node takes no new rooms');
    let opening = this.#opening.get(roomId);
    if (!opening) {
      opening = this.#open(roomId).finally(() => this.#opening.delete(roomId));
      this.#opening.set(roomId, opening);
    }
    return opening;
  }

  async #open(roomId: string): Promise<Room> {
    const room = await Room.open({
      roomId,
      pool: this.#pool,
      policy: this.#transportPlacement,
      hasCapacity: () => this.#hasCapacity(),
      peerGraceMs: this.config.peerGraceMs,
      logger: this.#logger,
    });
    if (this.#closing) {
      room.close('node closing');
      throw new ProtocolError('UNAVAILABLE', 'this SFU node is closing');
    }
    this.#rooms.set(roomId, room);
    room.on('roomevent', (envelope) => this.#control?.broadcast(envelope));
    // Other nodes carrying the room (it outgrew its primary) get a pipe each.
    void this.#nodePipes.linkRoom(room);
    room.once('close', () => {
      this.#rooms.delete(roomId);
      this.#leaving.delete(roomId);
      this.#registry.releaseRoom(roomId, this.id).catch((error: unknown) => {
        this.#logger.warn({ err: error, roomId }, 'could not release the room in the registry');
      });
    });
    return room;
  }

  /**
   * One heartbeat at a time, none after close begins (it would re-register a deregistered node).
   * Each re-announces the node's rooms, so a registry that lost its data learns them again.
   */
  #publish(): Promise<void> {
    if (this.#closing || !this.#control) return Promise.resolve();
    this.#heartbeat ??= this.#registry
      .heartbeat(this.info(), this.config.heartbeatTtlMs, [...this.#rooms.keys()].filter((roomId) => !this.#leaving.has(roomId)))
      .then((heldElsewhere) => this.#yield(heldElsewhere))
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'registry heartbeat failed'))
      .finally(() => (this.#heartbeat = undefined));
    return this.#heartbeat;
  }

  /**
   * The room split: while the registry could not tell (it lost its data, or this node's heartbeat
   * lapsed), it was placed on another live node as well. The registry's holder wins; closing the
   * room here sends its peers to rejoin there, so the halves meet again.
   */
  #yield(roomIds: string[]): void {
    for (const roomId of roomIds) {
      this.#logger.warn({ roomId }, 'room split: another node holds it in the registry; closing it here so its peers rejoin there');
      this.#rooms.get(roomId)?.close(ROOM_MOVED_REASON);
    }
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    this.#draining = true;
    await this.metrics.stop();
    await this.#heartbeat;
    await this.#registry.deregister(this.id).catch((error: unknown) => this.#logger.warn({ err: error }, 'could not deregister'));
    for (const room of [...this.#rooms.values()]) room.close('node closing');
    this.#nodePipes.close();
    await this.#control?.close();
    await this.#pool.close();
    this.#logger.info('SFU node closed');
  }
}
