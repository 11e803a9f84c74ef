import type { RoomEventEnvelope, SfuNodeInfo } from '@concord/protocol';
import type { SignalingSocket } from './types';

/** Where one local socket is in voice: its room and the SFU node carrying that room. */
export interface VoiceMembership {
  roomId: string;
  node: SfuNodeInfo;
}

/**
 * This process's index of which local sockets are in which voice rooms. SFU nodes send every room
 * event to every signaling process; each delivers it only to its own sockets.
 */
export class VoiceSessions {
  private readonly rooms = new Map<string, Map<string, SignalingSocket>>();
  private readonly memberships = new Map<SignalingSocket, VoiceMembership>();

  membership(socket: SignalingSocket): VoiceMembership | undefined {
    return this.memberships.get(socket);
  }

  /** Records the socket as its user's peer in the room; returns a socket it displaced, if any. */
  enter(socket: SignalingSocket, membership: VoiceMembership): SignalingSocket | undefined {
    this.exit(socket);
    const peers = this.rooms.get(membership.roomId) ?? new Map<string, SignalingSocket>();
    this.rooms.set(membership.roomId, peers);
    const displaced = peers.get(socket.data.userId);
    if (displaced && displaced !== socket) this.memberships.delete(displaced);
    peers.set(socket.data.userId, socket);
    this.memberships.set(socket, membership);
    return displaced !== socket ? displaced : undefined;
  }

  exit(socket: SignalingSocket): VoiceMembership | undefined {
    const membership = this.memberships.get(socket);
    if (!membership) return undefined;
    this.memberships.delete(socket);
    const peers = this.rooms.get(membership.roomId);
    if (peers?.get(socket.data.userId) === socket) peers.delete(socket.data.userId);
    if (peers?.size === 0) this.rooms.delete(membership.roomId);
    return membership;
  }

  deliver(envelope: RoomEventEnvelope): SignalingSocket[] {
    const peers = this.rooms.get(envelope.roomId);
    if (!peers) return [];
    const recipients: SignalingSocket[] = [];
    for (const [peerId, socket] of peers) {
      if (envelope.to && !envelope.to.includes(peerId)) continue;
      if (envelope.except === peerId) continue;
      // The envelope was validated against the event names; its data is the SFU's, typed by it.
      (socket.emit as (event: string, data: unknown) => boolean)(envelope.event, envelope.data);
      recipients.push(socket);
    }
    return recipients;
  }

  /** Every local socket whose room lives on the node. */
  socketsOnNode(nodeId: string): SignalingSocket[] {
    return [...this.memberships].filter(([, m]) => m.node.id === nodeId).map(([socket]) => socket);
  }

  count(): { rooms: number; peers: number } {
    return { rooms: this.rooms.size, peers: this.memberships.size };
  }
}
