import { ProtocolError, type SfuNodeInfo } from '@concord/protocol';
import { pickNode } from './placement';
import type { RoomRegistry } from './registry';

interface LiveNode {
  info: SfuNodeInfo;
  expiresAt: number;
}

/** The embedded default: one process, so a Map and JavaScript's single thread make claims atomic. */
export class InProcessRegistry implements RoomRegistry {
  private readonly nodes = new Map<string, LiveNode>();
  private readonly rooms = new Map<string, string>();

  constructor(private readonly now: () => number = Date.now) {}

  async heartbeat(node: SfuNodeInfo, ttlMs: number, hostedRooms: readonly string[] = []): Promise<string[]> {
    this.nodes.set(node.id, { info: node, expiresAt: this.now() + ttlMs });
    const heldElsewhere: string[] = [];
    for (const roomId of hostedRooms) {
      const holder = await this.roomNode(roomId);
      if (!holder) this.rooms.set(roomId, node.id);
      else if (holder.id !== node.id) heldElsewhere.push(roomId);
    }
    return heldElsewhere;
  }

  async deregister(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
    for (const [roomId, holder] of this.rooms) if (holder === nodeId) this.rooms.delete(roomId);
  }

  async liveNodes(): Promise<SfuNodeInfo[]> {
    return [...this.nodes.values()].filter((n) => n.expiresAt > this.now()).map((n) => n.info);
  }

  async placeRoom(roomId: string): Promise<SfuNodeInfo> {
    const current = await this.roomNode(roomId);
    if (current) return current;
    const chosen = pickNode(await this.liveNodes(), this.roomCounts());
    if (!chosen) throw new ProtocolError('UNAVAILABLE', 'no SFU node can take this room');
    this.rooms.set(roomId, chosen.id);
    return chosen;
  }

  async roomNode(roomId: string): Promise<SfuNodeInfo | null> {
    const nodeId = this.rooms.get(roomId);
    if (!nodeId) return null;
    const node = this.nodes.get(nodeId);
    if (node && node.expiresAt > this.now()) return node.info;
    this.rooms.delete(roomId);
    return null;
  }

  async releaseRoom(roomId: string, nodeId: string): Promise<void> {
    if (this.rooms.get(roomId) === nodeId) this.rooms.delete(roomId);
  }

  async close(): Promise<void> {
    this.nodes.clear();
    this.rooms.clear();
  }

  private roomCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const nodeId of this.rooms.values()) counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
    return counts;
  }
}
