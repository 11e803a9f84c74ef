import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '@concord/protocol';

/** What the auth middleware learns about a socket's user from its session token. */
export interface SocketData {
  userId: string;
  displayName: string;
}

type NoInterServerEvents = Record<string, never>;

export type SignalingServer = Server<ClientToServerEvents, ServerToClientEvents, NoInterServerEvents, SocketData>;
export type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, NoInterServerEvents, SocketData>;
