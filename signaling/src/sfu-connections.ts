import { io, type Socket } from 'socket.io-client';
import {
  controlRequests,
  fail,
  ok,
  ProtocolError,
  RoomEventEnvelopeSchema,
  type ControlRequest,
  type ControlRequestName,
  type ControlResponse,
  type Result,
  type RoomEventEnvelope,
  type SfuNodeInfo,
  type SfuToSignalingEvents,
  type SignalingToSfuEvents,
} from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';
import type { SignalingMetrics } from './metrics';
import { NodeLiveness } from './node-liveness';

type ControlSocket = Socket<SfuToSignalingEvents, SignalingToSfuEvents>;

export interface SfuConnectionsEvents {
  onRoomEvent(nodeId: string, envelope: RoomEventEnvelope): void;
  /**
   * The control connection to a node dropped: every room on it is gone for our clients. Called once
   * the node has been probed, so that a dead node is out of the registry before clients rejoin.
   */
  onNodeLost(nodeId: string): void;
}

export interface SfuConnectionsOptions {
  signalingId: string;
  secret: string;
  timeoutMs: number;
  /** Where rooms are placed, and where a node found dead is removed from. */
  registry: RoomRegistry;
  /** How long a probe of a lost node waits for an answer; default the request timeout, at most 1 s. */
  probeTimeoutMs?: number;
  metrics?: SignalingMetrics;
}

/** A probe that hears nothing for this long leaves the node to its heartbeat TTL anyway. */
const MAX_PROBE_TIMEOUT_MS = 1_000;

/**
 * The control connections from this signaling process to SFU nodes: one socket.io connection per
 * node, opened on first use, each request bounded by a timeout and answered with a typed result.
 * A node whose connection drops or cannot be opened is probed at once (NodeLiveness) and, if dead,
 * removed from the registry, so that rooms are placed elsewhere within moments.
 */
export class SfuConnections {
  private readonly sockets = new Map<string, ControlSocket>();
  private readonly liveness: NodeLiveness;

  constructor(
    private readonly options: SfuConnectionsOptions,
    private readonly events: SfuConnectionsEvents,
    private readonly log: Logger,
  ) {
    const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(options.timeoutMs, MAX_PROBE_TIMEOUT_MS);
    this.liveness = new NodeLiveness(options.registry, { probeTimeoutMs }, log);
  }

  /**
   * The node a new peer of the room goes to (RoomRegistry.placePeer; `exclude`: nodes that just
   * refused it for capacity), but never a node this process is finding dead: its registry entry
   * lasts until the probe under way has removed it.
   */
  async place(roomId: string, exclude: readonly string[] = []): Promise<SfuNodeInfo> {
    const node = await this.options.registry.placePeer(roomId, exclude);
    const probing = this.liveness.probing(node);
    if (!probing || !(await probing)) return node;
    return this.options.registry.placePeer(roomId, exclude);
  }

  /** One control request to `node`, its round trip and result counted in the metrics. */
  async request<N extends ControlRequestName>(node: SfuNodeInfo, name: N, data: ControlRequest<N>): Promise<ControlResponse<N>> {
    const startedAt = performance.now();
    try {
      const response = await this.exchange(node, name, data);
      this.options.metrics?.sfuAnswered(name, ok(response), startedAt);
      return response;
    } catch (error) {
      this.options.metrics?.sfuAnswered(name, fail(error), startedAt);
      throw error;
    }
  }

  private async exchange<N extends ControlRequestName>(node: SfuNodeInfo, name: N, data: ControlRequest<N>): Promise<ControlResponse<N>> {
    const socket = await this.connect(node);
    let result: Result<ControlResponse<N>>;
    try {
      // socket.io cannot narrow its event map through the generic N; the control schemas hold the types.
      const timed = socket.timeout(this.options.timeoutMs);
      const emitWithAck = timed.emitWithAck.bind(timed) as (event: string, payload: unknown) => Promise<unknown>;
      result = (await emitWithAck(name, data)) as Result<ControlResponse<N>>;
    } catch {
      throw new ProtocolError('TIMEOUT', `SFU node ${node.id} did not answer ${name} in ${this.options.timeoutMs} ms`);
    }
    if (!result.ok) throw ProtocolError.fromBody(result.error);
    return controlRequests[name].response.parse(result.data) as ControlResponse<N>;
  }

  /**
   * This process has no client left in the room on the node, which stops sending the room's events
   * here. Nothing to say over a connection that is down: a new one starts without subscriptions.
   */
  unsubscribe(nodeId: string, roomId: string): void {
    const socket = this.sockets.get(nodeId);
    if (socket?.connected) socket.emit('room:unsubscribe', { roomId });
  }

  close(): void {
    for (const socket of this.sockets.values()) socket.disconnect();
    this.sockets.clear();
  }

  private connect(node: SfuNodeInfo): Promise<ControlSocket> {
    const existing = this.sockets.get(node.id);
    if (existing?.connected) return Promise.resolve(existing);
    // A socket refused while reconnecting in the background has given up; start afresh.
    if (existing && !existing.active) this.drop(node.id, existing);
    const socket = this.sockets.get(node.id) ?? this.open(node);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new ProtocolError('UNAVAILABLE', `SFU node ${node.id} is unreachable`));
      }, this.options.timeoutMs);
      const onConnect = () => {
        cleanup();
        resolve(socket);
      };
      const onError = (error: Error) => {
        // An inactive socket was refused by the node's auth middleware and will not retry (a
        // network error keeps it active and retrying): fail now, and start afresh next time.
        if (!socket.active) {
          cleanup();
          this.drop(node.id, socket);
          reject(new ProtocolError('UNAVAILABLE', `SFU node ${node.id} refused our control connection: ${error.message}`));
          return;
        }
        // A network error: a dead node fails the request now instead of at the timeout.
        void this.liveness.check(node).then((dead) => {
          if (!dead) return;
          cleanup();
          this.drop(node.id, socket);
          reject(new ProtocolError('UNAVAILABLE', `SFU node ${node.id} is down`));
        });
      };
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
      };
      socket.on('connect', onConnect);
      socket.on('connect_error', onError);
    });
  }

  private open(node: SfuNodeInfo): ControlSocket {
    const socket: ControlSocket = io(node.controlUrl, {
      auth: { secret: this.options.secret, signalingId: this.options.signalingId },
      transports: ['websocket'],
      reconnectionDelayMax: 2000,
    });
    this.sockets.set(node.id, socket);
    socket.on('room:event', (envelope) => {
      const parsed = RoomEventEnvelopeSchema.safeParse(envelope);
      if (!parsed.success) {
        this.log.warn({ nodeId: node.id }, 'dropped malformed room event from SFU node');
        return;
      }
      this.events.onRoomEvent(node.id, envelope);
    });
    socket.on('disconnect', (reason) => {
      this.log.warn({ nodeId: node.id, reason }, 'lost control connection to SFU node');
      if (reason === 'io server disconnect') this.drop(node.id, socket);
      if (reason === 'io client disconnect') return this.events.onNodeLost(node.id);
      // Probe first: the clients told next rejoin at once, and must not be placed on a dead node.
      void this.liveness.check(node).then((dead) => {
        // A dead node's socket would retry it forever; a later request opens a fresh one.
        if (dead) this.drop(node.id, socket);
        this.events.onNodeLost(node.id);
      });
    });
    return socket;
  }

  private drop(nodeId: string, socket: ControlSocket): void {
    socket.close();
    if (this.sockets.get(nodeId) === socket) this.sockets.delete(nodeId);
  }
}
