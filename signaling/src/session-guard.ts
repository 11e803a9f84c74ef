import { ProtocolError, type RevokedSessions, type SessionRevocation } from '@concord/protocol';
import type { Logger } from 'pino';
import type { SfuConnections } from './sfu-connections';
import type { AnySignalingSocket, SignalingServer, VoiceNamespace, VoiceSocket } from './types';
import type { VoiceSessions } from './voice-sessions';

/** Every socket of a session is in this room, so a revocation finds them. */
const sessionRoom = (sessionId: string) => `session:${sessionId}`;

interface SessionGuardContext {
  io: SignalingServer;
  voiceNamespace: VoiceNamespace;
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
  async bind(socket: AnySignalingSocket): Promise<void> {
    await socket.join(sessionRoom(socket.data.sessionId));
    try {
      await this.admit(socket.data.sessionId);
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') this.close(socket, 'signed-out');
      else this.context.log.warn({ err: error, socketId: socket.id }, 'could not re-check the session of a new socket');
    }
  }

  /** Closes this instance's sockets of the sessions, in both namespaces. */
  async revoke({ sessionIds, reason }: SessionRevocation): Promise<void> {
    const rooms = sessionIds.map(sessionRoom);
    for (const socket of rooms.flatMap((room) => socketsIn(this.context.io.sockets, room))) this.close(socket, reason);
    await Promise.all(rooms.flatMap((room) => socketsIn(this.context.voiceNamespace, room)).map((socket) => this.closeVoice(socket, reason)));
  }

  private close(socket: AnySignalingSocket, reason: SessionRevocation['reason']): void {
    // Both namespaces declare `session:revoked` with this payload.
    (socket.emit as (event: 'session:revoked', data: { reason: SessionRevocation['reason'] }) => boolean)('session:revoked', { reason });
    socket.disconnect(true);
  }

  /** A voice socket also leaves its room, at once: out of the sessions before its disconnect, which would start a grace period. */
  private async closeVoice(socket: VoiceSocket, reason: SessionRevocation['reason']): Promise<void> {
    const membership = this.context.voice.exit(socket);
    this.close(socket, reason);
    if (!membership) return;
    const peer = { roomId: membership.roomId, peerId: socket.data.userId, sessionId: socket.id };
    await this.context.sfu.request(membership.node, 'peer.leave', peer).catch((error: unknown) =>
      this.context.log.warn({ err: error, roomId: membership.roomId }, 'peer.leave of a revoked session failed'),
    );
    this.context.log.info({ userId: socket.data.userId, roomId: membership.roomId }, 'revoked session left its voice room');
  }
}

/** The sockets of this instance in a room of the namespace. */
function socketsIn<S>(namespace: { adapter: { rooms: Map<string, Set<string>> }; sockets: Map<string, S> }, room: string): S[] {
  return [...(namespace.adapter.rooms.get(room) ?? [])].map((id) => namespace.sockets.get(id)).filter((socket) => socket !== undefined);
}
