import { ProtocolError, type SfuNodeInfo } from '@concord/protocol';
import { hasHeadroom, pickNode } from './placement';
import type { RoomRegistry } from './registry';

interface LiveNode {
  info: SfuNodeInfo;
  expiresAt: number;
}

/** Where a room lives: its primary node and every node carrying it (the primary among them). */
interface RoomNodes {
  primary: string;
  nodes: Set<string>;
}

/** The embedded default: one process, so Maps and JavaScript's single thread make claims atomic. */
export class InProcessRegistry implements RoomRegistry {
  private readonly nodes = new Map<string, LiveNode>();
  private readonly rooms = new Map<string, RoomNodes>();

  constructor(private readonly now: () => number = Date.now) {}

  async heartbeat(node: SfuNodeInfo, ttlMs: number, hostedRooms: readonly string[] = []): Promise<string[]> {
    this.nodes.set(node.id, { info: node, expiresAt: this.now() + ttlMs });
    const heldElsewhere: string[] = [];
    for (const roomId of hostedRooms) {
      if (this.rooms.get(roomId)?.nodes.has(node.id)) continue;
      if (await this.roomNode(roomId)) heldElsewhere.push(roomId);
      else this.join(roomId, node.id);
    }
    return heldElsewhere;
  }

  async deregister(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
    for (const roomId of [...this.rooms.keys()]) this.leave(roomId, nodeId);
  }

  async liveNodes(): Promise<SfuNodeInfo[]> {
    return [...this.nodes.values()].filter((n) => n.expiresAt > this.now()).map((n) => n.info);
  }

  async placePeer(roomId: string, exclude: readonly string[] = []): Promise<SfuNodeInfo> {
    const carrying = (await this.roomNodes(roomId)).filter((node) => !exclude.includes(node.id));
    const primary = carrying[0];
    if (primary && primary.id === this.rooms.get(roomId)?.primary && hasHeadroom(primary)) return primary;
    const joined = pickNode(carrying, this.roomCounts());
    if (joined) return joined;
    const fresh = (await this.liveNodes()).filter((node) => !exclude.includes(node.id) && !this.rooms.get(roomId)?.nodes.has(node.id));
    return this.joinBest(roomId, fresh);
  }

  async roomNodes(roomId: string): Promise<SfuNodeInfo[]> {
    const room = this.rooms.get(roomId);
    if (!room) return [];
    for (const nodeId of [...room.nodes]) if (!this.live(nodeId)) this.leave(roomId, nodeId);
    const current = this.rooms.get(roomId);
    if (!current) return [];
    const ordered = [current.primary, ...[...current.nodes].filter((id) => id !== current.primary)];
    return ordered.map((id) => this.live(id)!);
  }

  async roomNode(roomId: string): Promise<SfuNodeInfo | null> {
    return (await this.roomNodes(roomId))[0] ?? null;
  }

  async releaseRoom(roomId: string, nodeId: string): Promise<void> {
    this.leave(roomId, nodeId);
  }

  async close(): Promise<void> {
    this.nodes.clear();
    this.rooms.clear();
  }

  private joinBest(roomId: string, candidates: SfuNodeInfo[]): SfuNodeInfo {
    const chosen = pickNode(candidates, this.roomCounts());
    if (!chosen) throw new ProtocolError('UNAVAILABLE', 'no SFU node can take this room');
    this.join(roomId, chosen.id);
    return chosen;
  }

  private join(roomId: string, nodeId: string): void {
    const room = this.rooms.get(roomId) ?? { primary: nodeId, nodes: new Set<string>() };
    room.nodes.add(nodeId);
    this.rooms.set(roomId, room);
  }

  /** A primary leaving hands the room to another node carrying it. */
  private leave(roomId: string, nodeId: string): void {
    const room = this.rooms.get(roomId);
    if (!room?.nodes.delete(nodeId)) return;
    const successor = room.nodes.values().next();
    if (successor.done) this.rooms.delete(roomId);
    else if (room.primary === nodeId) room.primary = successor.value;
  }

  private live(nodeId: string): SfuNodeInfo | undefined {
    const node = this.nodes.get(nodeId);
    return node && node.expiresAt > this.now() ? node.info : undefined;
  }

  private roomCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const room of this.rooms.values()) for (const nodeId of room.nodes) counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
    return counts;
  }
}
