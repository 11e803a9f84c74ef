import { ErrorBody, ProtocolError, VOICE_NAMESPACE } from '@concord/protocol';
import type {
  Result,
  VoiceClientToServerEvents,
  VoiceEventName,
  VoiceRequest,
  VoiceRequestName,
  VoiceResponse,
  VoiceServerToClientEvents,
} from '@concord/protocol';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';

export type SignalingSocket = Socket<VoiceServerToClientEvents, VoiceClientToServerEvents>;

/**
 * The signaling socket on this page's origin (which also serves the API), in the voice namespace:
 * only the call's events, the app's real-time ones come over the gateway's socket. A connection of
 * its own (forceNew), not multiplexed with the gateway's: socket.io's own reconnection is off here,
 * the room reconnects itself, with a fresh grant and new transports. WebSocket only, so several
 * signaling nodes behind a balancer need no sticky sessions.
 */
export function openSignalingSocket(token: string): SignalingSocket {
  return io(VOICE_NAMESPACE, { auth: { token }, autoConnect: false, reconnection: false, forceNew: true, transports: ['websocket'] });
}

/** The emit signature once `timeout()` is applied, with the event name widened (see request()). */
type AckEmitter = { emit(event: string, data: unknown, ack: (err: Error | null, result: Result<unknown>) => void): void };

/**
 * Typed requests over the signaling socket. Every request resolves with its response or rejects
 * with a ProtocolError: the server's own error, TIMEOUT when no ack comes in time, UNAVAILABLE
 * when the socket is (or goes) down. Requests are never queued while disconnected: a request
 * replayed on a later connection would refer to transports and producers that no longer exist.
 */
export class SignalingClient {
  private readonly pending = new Set<(error: ProtocolError) => void>();

  constructor(
    readonly socket: SignalingSocket,
    private readonly timeoutMs = 10_000,
  ) {
    socket.on('disconnect', () => {
      for (const reject of [...this.pending]) reject(new ProtocolError('UNAVAILABLE', 'Lost the connection to the server.'));
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Connects the socket if needed; rejects with the server's reason when it refuses us. */
  connect(): Promise<void> {
    const { socket } = this;
    if (socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: ProtocolError) => {
        clearTimeout(timer);
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
        if (error) reject(error);
        else resolve();
      };
      const onConnect = () => done();
      const onError = (error: Error & { data?: unknown }) => {
        const body = ErrorBody.safeParse(error.data);
        done(body.success ? ProtocolError.fromBody(body.data) : new ProtocolError('UNAVAILABLE', 'Cannot reach the server.'));
      };
      const timer = setTimeout(() => done(new ProtocolError('TIMEOUT', 'The server did not answer in time.')), this.timeoutMs);
      socket.on('connect', onConnect);
      socket.on('connect_error', onError);
      socket.connect();
    });
  }

  request<N extends VoiceRequestName>(name: N, data: VoiceRequest<N>): Promise<VoiceResponse<N>> {
    if (!this.socket.connected) return Promise.reject(new ProtocolError('UNAVAILABLE', 'Not connected to the server.'));
    return new Promise((resolve, reject) => {
      const settle = (error: ProtocolError | null, result?: VoiceResponse<N>) => {
        if (!this.pending.delete(fail)) return; // already settled (disconnect, then the timeout)
        if (error) reject(error);
        else resolve(result as VoiceResponse<N>);
      };
      const fail = (error: ProtocolError) => settle(error);
      this.pending.add(fail);
      // socket.io's typed emit cannot follow a generic event name through the mapped event type;
      // the public signature of this method carries the typing instead.
      (this.socket.timeout(this.timeoutMs) as unknown as AckEmitter).emit(name, data, (err, result) => {
        if (err) settle(new ProtocolError('TIMEOUT', 'The server did not answer in time.'));
        else if (result.ok) settle(null, result.data as VoiceResponse<N>);
        else settle(ProtocolError.fromBody(result.error));
      });
    });
  }

  /** Subscribes to a server event; the returned function unsubscribes. */
  on<E extends VoiceEventName>(event: E, listener: VoiceServerToClientEvents[E]): () => void {
    const socket = this.socket as unknown as { on(e: string, l: unknown): void; off(e: string, l: unknown): void };
    socket.on(event, listener);
    return () => socket.off(event, listener);
  }
}
