import { ProtocolError, type RevokedSessions, type SessionRevocation } from '@concord/protocol';
import type { Logger } from 'pino';
import type { SfuConnections } from './sfu-connections';
import type { SignalingServer, SignalingSocket } from './types';
import type { VoiceSessions } from './voice-sessions';

/** Every socket of a session is in this room, so a revocation finds them. */
const sessionRoom = (sessionId: string) => `session:${sessionId}`;

interface SessionGuardContext {
  io: SignalingServer;
  revoked: RevokedSessions;
  voice: VoiceSessions;
  sfu: SfuConnections;
  log: Logger;
}

/**
 * Keeps revoked sessions out of signaling: no new socket and no voice join for one, and the live
 * sockets of a session the API revokes are told why (`session:revoked`), taken out of their voice
 * room at once (no reconnect grace) and closed.
 */
export class SessionGuard {
  constructor(private readonly context: SessionGuardContext) {}

  /** Throws UNAUTHENTICATED if the session was revoked (UNAVAILABLE if that cannot be known now). */
  async admit(sessionId: string): Promise<void> {
    if (await this.context.revoked.isRevoked(sessionId)) throw new ProtocolError('UNAUTHENTICATED', 'this session was signed out');
  }

  /**
   * A newly connected socket joins its session's room, then the session is checked again: a
   * revocation recorded after the handshake's check but published before this join would
   * otherwise miss the socket.
   */
  async bind(socket: SignalingSocket): Promise<void> {
    await socket.join(sessionRoom(socket.data.sessionId));
    try {
      await this.admit(socket.data.sessionId);
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') await this.close(socket, 'signed-out');
      else this.context.log.warn({ err: error, socketId: socket.id }, 'could not re-check the session of a new socket');
    }
  }

  async revoke(revocation: SessionRevocation): Promise<void> {
    const { io } = this.context;
    const sockets = revocation.sessionIds.flatMap((sessionId) =>
      [...(io.sockets.adapter.rooms.get(sessionRoom(sessionId)) ?? [])].map((id) => io.sockets.sockets.get(id)).filter((socket) => socket !== undefined),
    );
    await Promise.all(sockets.map((socket) => this.close(socket, revocation.reason)));
  }

  private async close(socket: SignalingSocket, reason: SessionRevocation['reason']): Promise<void> {
    socket.emit('session:revoked', { reason });
    const membership = this.context.voice.exit(socket);
    socket.disconnect(true);
    if (!membership) return;
    const peer = { roomId: membership.roomId, peerId: socket.data.userId, sessionId: socket.id };
    await this.context.sfu.request(membership.node, 'peer.leave', peer).catch((error: unknown) =>
      this.context.log.warn({ err: error, roomId: membership.roomId }, 'peer.leave of a revoked session failed'),
    );
    this.context.log.info({ userId: socket.data.userId, roomId: membership.roomId }, 'revoked session left its voice room');
  }
}
