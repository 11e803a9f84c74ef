import { ErrorBody, ProtocolError } from '@concord/protocol';
import type {
  ConnectionPresence,
  RealtimeClientToServerEvents,
  RealtimeEvent,
  RealtimeEventName,
  RealtimeNamespaceServerToClientEvents,
  Result,
} from '@concord/protocol';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { TypedEmitter } from '../call/emitter';

export type GatewayState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

type GatewayEvents = {
  state: [GatewayState];
  /** Connected again after a drop: events may have been missed, so state should be fetched anew. */
  resumed: [];
  /** The server refused our session: sign in again. */
  unauthenticated: [];
};

type AnySocket = { on(e: string, l: unknown): void; off(e: string, l: unknown): void };

/**
 * The app's real-time connection (chat, presence, server changes): one socket.io connection on this
 * page's origin (namespace `/`) for the whole session, reconnecting by itself with backoff. Calls
 * use a socket of their own in the voice namespace (see call/), which their room drives and closes,
 * as Discord keeps its gateway and its voice connections apart; each event comes over one of them.
 */
export class Gateway extends TypedEmitter<GatewayEvents> {
  readonly socket: Socket<RealtimeNamespaceServerToClientEvents, RealtimeClientToServerEvents>;
  private stateValue: GatewayState = 'connecting';
  private everConnected = false;
  private presence: ConnectionPresence = 'online';

  constructor(token: string) {
    super();
    this.socket = io({
      auth: { token },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      randomizationFactor: 0.3,
    });
    this.socket.on('connect', () => {
      const resumed = this.everConnected;
      this.everConnected = true;
      this.setState('connected');
      if (this.presence !== 'online') void this.setPresence(this.presence);
      if (resumed) this.emit('resumed');
    });
    this.socket.on('disconnect', (reason) => {
      // The server closing us (e.g. our session was revoked) is not retried by socket.io.
      if (reason === 'io server disconnect') this.socket.connect();
      this.setState('reconnecting');
    });
    // Our session was signed out (here or elsewhere): the server closes us next; no point reconnecting.
    this.socket.on('session:revoked', () => {
      this.close();
      this.emit('unauthenticated');
    });
    this.socket.on('connect_error', (error: Error & { data?: unknown }) => {
      const body = ErrorBody.safeParse(error.data);
      if (body.success && body.data.code === 'UNAUTHENTICATED') {
        this.close();
        this.emit('unauthenticated');
        return;
      }
      this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    });
  }

  get state(): GatewayState {
    return this.stateValue;
  }

  /** Subscribes to a server event; the returned function unsubscribes. */
  onEvent<E extends RealtimeEventName>(event: E, listener: (data: RealtimeEvent<E>) => void): () => void {
    const socket = this.socket as unknown as AnySocket;
    socket.on(event, listener);
    return () => socket.off(event, listener);
  }

  /** This connection's presence (online or idle); remembered and re-sent after a reconnect. */
  async setPresence(status: ConnectionPresence): Promise<void> {
    this.presence = status;
    if (!this.socket.connected) return;
    await new Promise<void>((resolve, reject) => {
      this.socket.timeout(10_000).emit('presence:set', { status }, (err: Error | null, result: Result<object>) => {
        if (err) reject(new ProtocolError('TIMEOUT', 'The server did not answer in time.'));
        else if (!result.ok) reject(ProtocolError.fromBody(result.error));
        else resolve();
      });
    }).catch(() => undefined);
  }

  close(): void {
    this.socket.disconnect();
    this.setState('closed');
  }

  private setState(state: GatewayState): void {
    if (this.stateValue === state || this.stateValue === 'closed') return;
    this.stateValue = state;
    this.emit('state', state);
  }
}
