import { ProtocolError, type VoiceGrantClaims, type VoiceRemoval, type VoiceRemovedReason } from '@concord/protocol';
import type { Logger } from 'pino';
import type { SfuConnections } from './sfu-connections';
import type { SignalingSocket } from './types';
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
    private readonly context: { sessions: VoiceSessions; sfu: SfuConnections; log: Logger },
  ) {}

  /** Takes this instance's sessions that the removal names out of its room; every other instance does the same for its own. */
  async apply({ roomId, userIds, reason }: VoiceRemoval): Promise<void> {
    const named = userIds && new Set(userIds);
    const sockets = this.context.sessions.socketsIn(roomId).filter((socket) => !named || named.has(socket.data.userId));
    await Promise.all(sockets.map((socket) => this.remove(socket, reason)));
  }

  /** Whether a removal from the grant's room came after the grant's permissions were checked. */
  async voids(grant: VoiceGrantClaims): Promise<boolean> {
    return grant.checkedAt <= (await this.revocations.revokedAt(grant.room, grant.sub));
  }

  close(): Promise<void> {
    return this.revocations.close();
  }

  /** Out of the room here first, so no further room event reaches the client; then the peer goes on the SFU. */
  private async remove(socket: SignalingSocket, reason: VoiceRemovedReason): Promise<void> {
    const membership = this.context.sessions.exit(socket);
    if (!membership) return;
    const { roomId, node } = membership;
    const userId = socket.data.userId;
    socket.emit('voice:removed', { roomId, reason });
    try {
      await this.context.sfu.request(node, 'peer.leave', { roomId, peerId: userId, sessionId: socket.id });
      this.context.log.info({ userId, roomId, reason }, 'removed from voice room');
    } catch (error) {
      this.context.log.warn({ err: error, userId, roomId }, 'could not remove the peer on the SFU');
    }
  }
}

export const grantVoided = (): ProtocolError => new ProtocolError('GRANT_INVALID', 'the grant predates a removal from this room');
