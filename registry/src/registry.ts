import type { SfuNodeInfo } from '@concord/protocol';

/**
 * Where SFU nodes announce themselves and where voice rooms are placed on them.
 * Two implementations share this contract (and its tests): Redis for a cluster, in-process for the
 * embedded default.
 */
export interface RoomRegistry {
  /**
   * Publishes or refreshes a node, which lapses `ttlMs` after its last heartbeat, and re-announces
   * the rooms it hosts in the same atomic step: a registry that lost its data (Redis restarted
   * empty) knows where every room of a live node is as soon as that node is live again, so
   * placement never opens one of them on a second node. A room another live node holds stays
   * there; such rooms are returned (the room split while the registry could not tell), and the
   * node should give them up so that their peers rejoin on the holder.
   */
  heartbeat(node: SfuNodeInfo, ttlMs: number, hostedRooms?: readonly string[]): Promise<string[]>;
  /** Removes a node at once (clean shutdown); its rooms become free to place again. */
  deregister(nodeId: string): Promise<void>;
  /** Nodes whose heartbeat has not lapsed. */
  liveNodes(): Promise<SfuNodeInfo[]>;
  /**
   * Where a new peer of the room goes; a room may live on several nodes (joined by pipes). The
   * room's primary node while it has headroom (placement.ts hasHeadroom), else the least-loaded
   * other node already carrying the room that has headroom, else the least-loaded node with
   * headroom that does not carry it yet, which joins the room (the primary, if it had none).
   * `exclude` names nodes that just refused the peer for capacity. Atomic: two callers racing on a
   * room nobody carries yet get the same node. Throws ProtocolError('UNAVAILABLE') when no node has
   * headroom.
   */
  placePeer(roomId: string, exclude?: readonly string[]): Promise<SfuNodeInfo>;
  /** The live nodes carrying the room, the primary first. */
  roomNodes(roomId: string): Promise<SfuNodeInfo[]>;
  /** The live node holding the room (its primary), or null. */
  roomNode(roomId: string): Promise<SfuNodeInfo | null>;
  /** `nodeId` no longer carries the room (it closed there); if it was the primary, another node carrying it takes over. */
  releaseRoom(roomId: string, nodeId: string): Promise<void>;
  close(): Promise<void>;
}
