import type { RoomEventEnvelope, SfuNodeInfo } from '@concord/protocol';
import type { VoiceSocket } from './types';

/** Where one local socket is in voice: its room and the SFU node carrying that room. */
export interface VoiceMembership {
  roomId: string;
  node: SfuNodeInfo;
}

/**
 * This process's index of which local sockets are in which voice rooms. SFU nodes send a room's
 * events to the signaling processes with a peer in it (a join subscribes; `onRoomLeft` says when
 * this process has no socket left in, or joining, a room on a node); each delivers them only to
 * its own sockets.
 */
export class VoiceSessions {
  /** Local sockets in, or joining, each room on each node (a socket joining the room it is in counts twice). */
  private readonly interest = new Map<string, number>();
  private readonly rooms = new Map<string, Map<string, VoiceSocket>>();
  private readonly memberships = new Map<VoiceSocket, VoiceMembership>();
  /** Joins under way, by room and user. */
  private readonly joining = new Map<string, Map<string, VoiceSocket>>();
  /** The events held for a joining socket until its join has been answered. */
  private readonly held = new Map<VoiceSocket, { roomId: string; nodeId: string; events: [string, unknown][] }>();

  constructor(private readonly onRoomLeft: (nodeId: string, roomId: string) => void = () => undefined) {}

  membership(socket: VoiceSocket): VoiceMembership | undefined {
    return this.memberships.get(socket);
  }

  /**
   * Records the socket as its user's peer in the room. A local socket that held the peer before is
   * out already: the SFU's roomClosed for its session came ahead of this socket's join answer.
   */
  enter(socket: VoiceSocket, membership: VoiceMembership): void {
    this.exit(socket);
    const peers = this.rooms.get(membership.roomId) ?? new Map<string, VoiceSocket>();
    this.rooms.set(membership.roomId, peers);
    peers.set(socket.data.userId, socket);
    this.memberships.set(socket, membership);
    this.countInterest(membership.node.id, membership.roomId, +1);
  }

  /**
   * Holds the room's events for the socket from now until `release`: the SFU sends them from the
   * moment it admits the peer, before its join answer is back here, and a client applies its
   * join answer first (so an event before it would be lost).
   */
  hold(socket: VoiceSocket, roomId: string, nodeId: string): void {
    this.release(socket);
    this.held.set(socket, { roomId, nodeId, events: [] });
    this.countInterest(nodeId, roomId, +1);
    const joining = this.joining.get(roomId) ?? new Map<string, VoiceSocket>();
    this.joining.set(roomId, joining);
    joining.set(socket.data.userId, socket);
  }

  /** Ends a hold: emits what was held if the socket is now in that room, drops it otherwise. No-op without a hold. */
  release(socket: VoiceSocket): void {
    const hold = this.held.get(socket);
    if (!hold) return;
    this.held.delete(socket);
    const joining = this.joining.get(hold.roomId);
    if (joining?.get(socket.data.userId) === socket) joining.delete(socket.data.userId);
    if (joining?.size === 0) this.joining.delete(hold.roomId);
    if (this.memberships.get(socket)?.roomId === hold.roomId) {
      for (const [event, data] of hold.events) (socket.emit as (event: string, data: unknown) => boolean)(event, data);
    }
    this.countInterest(hold.nodeId, hold.roomId, -1);
  }

  exit(socket: VoiceSocket): VoiceMembership | undefined {
    const membership = this.memberships.get(socket);
    if (!membership) return undefined;
    this.memberships.delete(socket);
    const peers = this.rooms.get(membership.roomId);
    if (peers?.get(socket.data.userId) === socket) peers.delete(socket.data.userId);
    if (peers?.size === 0) this.rooms.delete(membership.roomId);
    this.countInterest(membership.node.id, membership.roomId, -1);
    return membership;
  }

  /**
   * Delivers an event of a room on node `nodeId` to the local sockets in that room there. Only
   * there: should the room have split over two nodes, each half hears only its own node.
   */
  deliver(nodeId: string, envelope: RoomEventEnvelope): VoiceSocket[] {
    const recipients = new Set<VoiceSocket>();
    for (const peers of [this.rooms.get(envelope.roomId), this.joining.get(envelope.roomId)]) {
      for (const [peerId, socket] of peers ?? []) {
        if (recipients.has(socket) || !addressedTo(envelope, peerId, socket)) continue;
        const hold = this.held.get(socket);
        if ((hold?.nodeId ?? this.memberships.get(socket)?.node.id) !== nodeId) continue;
        if (hold) hold.events.push([envelope.event, envelope.data]);
        // The envelope was validated against the event names; its data is the SFU's, typed by it.
        else (socket.emit as (event: string, data: unknown) => boolean)(envelope.event, envelope.data);
        recipients.add(socket);
      }
    }
    return [...recipients];
  }

  /** The node of the user's peer in the room, if a local socket holds that peer. */
  nodeOfPeer(roomId: string, userId: string): SfuNodeInfo | undefined {
    const socket = this.rooms.get(roomId)?.get(userId);
    return socket && this.memberships.get(socket)?.node;
  }

  /** Every local socket holding a peer in the room. */
  socketsIn(roomId: string): VoiceSocket[] {
    return [...(this.rooms.get(roomId)?.values() ?? [])];
  }

  /** Every local socket whose room lives on the node. */
  socketsOnNode(nodeId: string): VoiceSocket[] {
    return [...this.memberships].filter(([, m]) => m.node.id === nodeId).map(([socket]) => socket);
  }

  count(): { rooms: number; peers: number } {
    return { rooms: this.rooms.size, peers: this.memberships.size };
  }

  private countInterest(nodeId: string, roomId: string, change: 1 | -1): void {
    const key = JSON.stringify([nodeId, roomId]);
    const count = (this.interest.get(key) ?? 0) + change;
    if (count > 0) return void this.interest.set(key, count);
    this.interest.delete(key);
    this.onRoomLeft(nodeId, roomId);
  }
}

/** Whether an event of the room is for the local socket that holds, or is joining as, `peerId`. */
function addressedTo(envelope: RoomEventEnvelope, peerId: string, socket: VoiceSocket): boolean {
  if (envelope.toSession !== undefined) return envelope.toSession === socket.id;
  return (!envelope.to || envelope.to.includes(peerId)) && envelope.except !== peerId;
}
