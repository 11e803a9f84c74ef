import { io, type Socket } from 'socket.io-client';
import type { Logger } from 'pino';
import {
  controlRequests,
  ProtocolError,
  type ControlRequest,
  type ControlRequestName,
  type ControlResponse,
  type Result,
  type SfuNodeInfo,
  type SfuToSignalingEvents,
  type SignalingToSfuEvents,
} from '@concord/protocol';

export interface NodeLinksOptions {
  nodeId: string;
  secret: string;
  timeoutMs: number;
  /** The connection to another node dropped (it died, or the network cut it): its pipes are gone. */
  onNodeLost: (nodeId: string) => void;
  logger: Logger;
}

type LinkSocket = Socket<SfuToSignalingEvents, SignalingToSfuEvents>;

/**
 * This node's control connections to the other SFU nodes it shares rooms with: the same control
 * interface signaling uses, authenticated with the same secret, here carrying the pipe requests.
 * One connection per node, opened on first use.
 */
export class NodeLinks {
  readonly #options: NodeLinksOptions;
  readonly #sockets = new Map<string, LinkSocket>();

  constructor(options: NodeLinksOptions) {
    this.#options = options;
  }

  async request<N extends ControlRequestName>(node: Pick<SfuNodeInfo, 'id' | 'controlUrl'>, name: N, data: ControlRequest<N>): Promise<ControlResponse<N>> {
    const socket = this.#socket(node);
    let result: Result<ControlResponse<N>>;
    try {
      const timed = socket.timeout(this.#options.timeoutMs);
      // socket.io cannot narrow its event map through the generic N; the control schemas hold the types.
      const emitWithAck = timed.emitWithAck.bind(timed) as (event: string, payload: unknown) => Promise<unknown>;
      result = (await emitWithAck(name, data)) as Result<ControlResponse<N>>;
    } catch {
      throw new ProtocolError('TIMEOUT', `SFU node ${node.id} did not answer ${name} in ${this.#options.timeoutMs} ms`);
    }
    if (!result.ok) throw ProtocolError.fromBody(result.error);
    return controlRequests[name].response.parse(result.data) as ControlResponse<N>;
  }

  close(): void {
    for (const socket of this.#sockets.values()) socket.close();
    this.#sockets.clear();
  }

  #socket(node: Pick<SfuNodeInfo, 'id' | 'controlUrl'>): LinkSocket {
    const existing = this.#sockets.get(node.id);
    if (existing) return existing;
    // No reconnection: a lost node's pipes are torn down, and a later room pipe opens a fresh connection.
    const socket: LinkSocket = io(node.controlUrl, {
      auth: { secret: this.#options.secret, signalingId: nodeLinkId(this.#options.nodeId) },
      transports: ['websocket'],
      reconnection: false,
    });
    this.#sockets.set(node.id, socket);
    const lost = (reason: string) => {
      if (this.#sockets.get(node.id) !== socket) return;
      this.#sockets.delete(node.id);
      socket.close();
      this.#options.logger.warn({ remoteNodeId: node.id, reason }, 'lost the control connection to another SFU node');
      this.#options.onNodeLost(node.id);
    };
    socket.on('disconnect', (reason) => lost(reason));
    socket.on('connect_error', (error) => lost(error.message));
    return socket;
  }
}

/** The id an SFU node's control connection to another node goes by: its pipe requests must come over it. */
export const nodeLinkId = (nodeId: string): string => `sfu-node:${nodeId}`;
