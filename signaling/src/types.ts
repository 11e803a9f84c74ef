import type { Namespace, Server, Socket } from 'socket.io';
import type {
  RealtimeClientToServerEvents,
  RealtimeInterServerEvents,
  RealtimeNamespaceServerToClientEvents,
  VoiceClientToServerEvents,
  VoiceServerToClientEvents,
} from '@concord/protocol';

/** What the auth middleware learns about a socket's user from its session token. */
export interface SocketData {
  userId: string;
  displayName: string;
  /** The server-side session of the token (its `sid`), revocable by the API. */
  sessionId: string;
}

/** The socket.io server; its namespace `/` carries the app's real-time events (chat, presence). */
export type SignalingServer = Server<RealtimeClientToServerEvents, RealtimeNamespaceServerToClientEvents, RealtimeInterServerEvents, SocketData>;
export type SignalingSocket = Socket<RealtimeClientToServerEvents, RealtimeNamespaceServerToClientEvents, RealtimeInterServerEvents, SocketData>;

/** The namespace `/voice`: the voice protocol, and nothing else. */
export type VoiceNamespace = Namespace<VoiceClientToServerEvents, VoiceServerToClientEvents, Record<string, never>, SocketData>;
export type VoiceSocket = Socket<VoiceClientToServerEvents, VoiceServerToClientEvents, Record<string, never>, SocketData>;

/** A socket of either namespace: what authentication, the connection cap and session revocation act on. */
export type AnySignalingSocket = SignalingSocket | VoiceSocket;
