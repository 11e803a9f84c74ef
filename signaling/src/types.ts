import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, RealtimeInterServerEvents, ServerToClientEvents } from '@concord/protocol';

/** What the auth middleware learns about a socket's user from its session token. */
export interface SocketData {
  userId: string;
  displayName: string;
  /** The server-side session of the token (its `sid`), revocable by the API. */
  sessionId: string;
}

export type SignalingServer = Server<ClientToServerEvents, ServerToClientEvents, RealtimeInterServerEvents, SocketData>;
export type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, RealtimeInterServerEvents, SocketData>;
