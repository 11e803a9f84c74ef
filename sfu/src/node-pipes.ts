import type { Logger } from 'pino';
import { ProtocolError, type ControlRequest, type SfuNodeInfo } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { ControlConnection, ControlHandlers } from './control-server';
import { NodeLinks, nodeLinkId } from './node-links';
import { PipeOffers } from './pipe-offer';
import type { PipeSetup, Room } from './room';
import type { RoomPipe } from './room-pipe';

export interface NodePipesOptions {
  nodeId: string;
  secret: string;
  listenIp: string;
  announcedAddress: string | undefined;
  /** How long a request to another node may take. */
  timeoutMs: number;
  registry: Pick<RoomRegistry, 'roomNodes' | 'liveNodes'>;
  /** The room open on this node, if any, and all of them. */
  room: (roomId: string) => Room | undefined;
  rooms: () => Iterable<Room>;
  logger: Logger;
}

type PipeHandlers = Pick<ControlHandlers, 'pipe.open' | 'pipe.produce' | 'pipe.producerState' | 'pipe.peer' | 'pipe.close'>;

/**
 * A room across SFU nodes: when a room opens here while other nodes carry it too (the registry
 * placed peers there when its primary was full), this node offers each of them a pipe; the pipe
 * requests of other nodes are answered here. The offer is signed (PipeOffers) and the offering
 * node must be live in the registry: nothing else gets this node to send media anywhere.
 */
export class NodePipes {
  readonly #options: NodePipesOptions;
  readonly #offers: PipeOffers;
  readonly #links: NodeLinks;

  constructor(options: NodePipesOptions) {
    this.#options = options;
    this.#offers = new PipeOffers(options.secret, options.nodeId);
    this.#links = new NodeLinks({
      nodeId: options.nodeId,
      secret: options.secret,
      timeoutMs: options.timeoutMs,
      logger: options.logger,
      onNodeLost: (nodeId) => {
        for (const room of options.rooms()) room.pipe(nodeId)?.close(false);
      },
    });
  }

  /** The room just opened here: pipe it to every other node carrying it. Never throws (a node that fails to answer is logged). */
  async linkRoom(room: Room): Promise<void> {
    let nodes: SfuNodeInfo[];
    try {
      nodes = (await this.#options.registry.roomNodes(room.id)).filter((node) => node.id !== this.#options.nodeId);
    } catch (error) {
      this.#options.logger.warn({ err: error, roomId: room.id }, 'could not read the nodes carrying the room; it stays unpiped');
      return;
    }
    await Promise.all(nodes.map((node) => this.#offer(room, node)));
  }

  readonly handlers: PipeHandlers = {
    'pipe.open': async (offer, connection) => {
      this.#offers.check(offer);
      const room = this.#options.room(offer.roomId);
      if (!room) throw new ProtocolError('NOT_IN_ROOM', `room ${offer.roomId} is not open on this node`);
      const node = (await this.#options.registry.liveNodes()).find((live) => live.id === offer.fromNodeId);
      if (!node) throw new ProtocolError('FORBIDDEN', `pipe offer refused: ${offer.fromNodeId} is not a live SFU node of this deployment`);
      this.#checkSender(offer, connection);
      const pipe = await room.openPipe(this.#setup(node), true);
      try {
        await pipe.connect(offer.endpoint);
      } catch (error) {
        pipe.close(false);
        throw error;
      }
      room.pipeOutAll(pipe);
      this.#options.logger.info({ roomId: room.id, remoteNodeId: node.id }, 'room piped to another node (accepted)');
      return pipe.endpoint();
    },
    'pipe.produce': async (request, connection) => {
      await this.#pipe(request, connection).receive(request);
      return {};
    },
    'pipe.producerState': async (request, connection) => {
      await this.#pipe(request, connection).producerState(request);
      return {};
    },
    'pipe.peer': async (request, connection) => {
      await this.#pipe(request, connection).peer(request);
      return {};
    },
    'pipe.close': async (request, connection) => {
      this.#checkSender(request, connection);
      this.#options.room(request.roomId)?.pipe(request.fromNodeId)?.close(false);
      return {};
    },
  };

  close(): void {
    this.#links.close();
  }

  async #offer(room: Room, node: SfuNodeInfo): Promise<void> {
    let pipe: RoomPipe | undefined;
    try {
      pipe = await room.openPipe(this.#setup(node), false);
      const answer = await this.#links.request(node, 'pipe.open', this.#offers.sign(room.id, node.id, pipe.endpoint()));
      await pipe.connect(answer);
      room.pipeOutAll(pipe);
      this.#options.logger.info({ roomId: room.id, remoteNodeId: node.id }, 'room piped to another node (offered)');
    } catch (error) {
      pipe?.close(false);
      this.#options.logger.warn({ err: error, roomId: room.id, remoteNodeId: node.id }, 'could not pipe the room to another node');
    }
  }

  #setup(node: SfuNodeInfo): PipeSetup {
    const { nodeId, listenIp, announcedAddress } = this.#options;
    return { localNodeId: nodeId, remoteNodeId: node.id, listenIp, announcedAddress, channel: (name, data) => this.#links.request(node, name, data) };
  }

  /**
   * A pipe is the node's that opened it: its requests must come over that node's own control
   * connection, so no other holder of the secret (a signaling process, another node) can close,
   * feed or pause it by naming it.
   */
  #checkSender({ fromNodeId }: { fromNodeId: string }, connection: ControlConnection): void {
    if (connection.data.signalingId !== nodeLinkId(fromNodeId)) {
      throw new ProtocolError('FORBIDDEN', `a pipe request for ${fromNodeId} came over ${connection.data.signalingId}'s connection`);
    }
  }

  #pipe(request: ControlRequest<'pipe.close'>, connection: ControlConnection): RoomPipe {
    this.#checkSender(request, connection);
    const { roomId, fromNodeId } = request;
    const pipe = this.#options.room(roomId)?.pipe(fromNodeId);
    if (!pipe) throw new ProtocolError('NOT_FOUND', `room ${roomId} has no pipe from ${fromNodeId} here`);
    return pipe;
  }
}
