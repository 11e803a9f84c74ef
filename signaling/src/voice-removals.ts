import { ProtocolError, type SfuNodeInfo, type VoiceGrantClaims, type VoiceRemoval } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';
import type { SfuConnections } from './sfu-connections';
import type { VoiceRevocations } from './voice-revocations';
import type { VoiceSessions } from './voice-sessions';

/**
 * Removal from voice rooms, for this signaling instance: the sessions it holds of users who may no
 * longer be in a room are taken out at once (the client is told why, the SFU drops the peer and the
 * others see it leave), and grants checked before a removal no longer admit anyone it named.
 */
export class VoiceRemovals {
  constructor(
    private readonly revocations: VoiceRevocations,
    private readonly context: { sessions: VoiceSessions; sfu: SfuConnections; registry: Pick<RoomRegistry, 'roomNodes'>; log: Logger },
  ) {}

  /**
   * Takes this instance's sessions that the removal names out of its room (the client is told why),
   * then the peers on the SFU, which the others see leave.
   */
  async apply({ roomId, userIds, reason }: VoiceRemoval): Promise<void> {
    const named = userIds && new Set(userIds);
    const nodes = new Map<string, SfuNodeInfo>();
    for (const socket of this.context.sessions.socketsIn(roomId)) {
      if (named && !named.has(socket.data.userId)) continue;
      // Out of the room here first, so that no further room event reaches the client.
      const node = this.context.sessions.exit(socket)?.node;
      if (node) nodes.set(node.id, node);
      socket.emit('voice:removed', { roomId, reason });
    }
    // Peers no socket here holds go too: another instance's, or one whose socket dropped and that
    // waits out its grace period, on any node carrying the room. Every instance asks; each SFU
    // removes each peer once.
    const carrying = await this.context.registry.roomNodes(roomId).catch((error: unknown) => {
      this.context.log.warn({ err: error, roomId }, 'could not read the nodes carrying the room; removing on those known here');
      return [];
    });
    for (const node of carrying) nodes.set(node.id, node);
    try {
      await Promise.all([...nodes.values()].map((node) => this.context.sfu.request(node, 'room.remove', { roomId, ...(userIds && { peerIds: userIds }) })));
      this.context.log.info({ roomId, userIds, reason }, 'removed from voice room');
    } catch (error) {
      this.context.log.warn({ err: error, roomId, userIds }, 'could not remove peers on the SFU');
    }
  }

  /** Whether a removal from the grant's room came after the grant's permissions were checked. */
  async voids(grant: VoiceGrantClaims): Promise<boolean> {
    return grant.checkedAt <= (await this.revocations.revokedAt(grant.room, grant.sub));
  }

  close(): Promise<void> {
    return this.revocations.close();
  }
}

export const grantVoided = (): ProtocolError => new ProtocolError('GRANT_INVALID', 'the grant predates a removal from this room');
