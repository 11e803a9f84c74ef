import type { SfuNodeInfo } from '@concord/protocol';

/**
 * Where SFU nodes announce themselves and where voice rooms are placed on them.
 * Two implementations share this contract (and its tests): Redis for a cluster, in-process for the
 * embedded default.
 */
export interface RoomRegistry {
  /** Publishes or refreshes a node. It lapses `ttlMs` after the last heartbeat. */
  heartbeat(node: SfuNodeInfo, ttlMs: number): Promise<void>;
  /** Removes a node at once (clean shutdown); its rooms become free to place again. */
  deregister(nodeId: string): Promise<void>;
  /** Nodes whose heartbeat has not lapsed. */
  liveNodes(): Promise<SfuNodeInfo[]>;
  /**
   * The node holding the room. If none holds it (or its node lapsed), the room is claimed
   * atomically for the least-loaded live, non-draining node under capacity: two callers racing on
   * one room always get the same node. Throws ProtocolError('UNAVAILABLE') when no node can take it.
   */
  placeRoom(roomId: string): Promise<SfuNodeInfo>;
  /** The live node holding the room, or null. */
  roomNode(roomId: string): Promise<SfuNodeInfo | null>;
  /** Frees the room's claim if `nodeId` still holds it (the room closed there). */
  releaseRoom(roomId: string, nodeId: string): Promise<void>;
  close(): Promise<void>;
}
