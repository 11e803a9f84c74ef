import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Server, type Socket } from 'socket.io';
import {
  ControlAuth,
  controlRequests,
  fail,
  ok,
  ProtocolError,
  type ControlRequest,
  type ControlRequestName,
  type ControlResponse,
  type Result,
  type RoomEventEnvelope,
  RoomUnsubscribe,
  type SfuToSignalingEvents,
  type SignalingToSfuEvents,
} from '@concord/protocol';
import { EventRoutes } from './event-routes';
import { parseRequest } from './input';

/** The signaling connection a request came over: the only way back to the client it speaks for. */
export interface ControlConnection {
  readonly id: string;
  /** False from the moment it dropped. */
  readonly connected: boolean;
  /** Who it said it is at its handshake, which the shared secret admitted (another SFU node: `nodeLinkId`). */
  readonly data: { readonly signalingId: string };
}

/** What answers each control request; the server has validated the request by then. */
export type ControlHandlers = {
  [N in ControlRequestName]: (request: ControlRequest<N>, connection: ControlConnection) => Promise<ControlResponse<N>>;
};

export interface ControlServerOptions {
  host: string;
  /** 0 picks a free port; see `port` once listening. */
  port: number;
  secret: string;
  handlers: ControlHandlers;
  /** A signaling connection dropped, for whatever reason; `connectionId` is the id its requests came with. */
  onConnectionLost: (connectionId: string) => void;
  logger: Logger;
}

type SocketData = { signalingId: string };
type ControlSocket = Socket<SignalingToSfuEvents, SfuToSignalingEvents, Record<string, never>, SocketData>;

/** No control message is near this; a larger one is a fault or an attack and drops the connection. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const FLUSH_TIMEOUT_MS = 1_000;
const CONTROL_REQUEST_NAMES = Object.keys(controlRequests) as ControlRequestName[];

/**
 * The node's control interface for signaling servers: socket.io, authenticated with the cluster's
 * shared secret. Requests are acked with a Result; a room's events go to the signaling servers
 * serving its peers (EventRoutes: a socket.io room per voice room, joined by `peer.join` and left
 * by `room:unsubscribe`), each of which delivers them to the clients it holds.
 */
export class ControlServer {
  readonly #http: HttpServer;
  readonly #io: Server<SignalingToSfuEvents, SfuToSignalingEvents, Record<string, never>, SocketData>;
  readonly #options: ControlServerOptions;
  readonly #secretDigest: Buffer;
  readonly #routes = new EventRoutes<ControlSocket>();
  #closed = false;

  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const server = new ControlServer(options);
    try {
      await new Promise<void>((resolve, reject) => {
        server.#http.once('error', reject);
        server.#http.listen(options.port, options.host, () => {
          server.#http.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  private constructor(options: ControlServerOptions) {
    this.#options = options;
    this.#secretDigest = digest(options.secret);
    this.#http = createServer();
    this.#io = new Server(this.#http, { maxHttpBufferSize: MAX_PAYLOAD_BYTES, serveClient: false });
    this.#io.use((socket, next) => {
      const auth = ControlAuth.safeParse(socket.handshake.auth);
      if (!auth.success || !timingSafeEqual(digest(auth.data.secret), this.#secretDigest)) {
        options.logger.warn({ address: socket.handshake.address }, 'control connection refused: bad credentials');
        next(new Error('unauthorized'));
        return;
      }
      socket.data.signalingId = auth.data.signalingId;
      next();
    });
    this.#io.on('connection', (socket) => this.#accept(socket));
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** Sends a room event to the signaling servers serving its recipients; each delivers it to its own sockets of the room. */
  broadcast(envelope: RoomEventEnvelope): void {
    if (this.#closed) return;
    const connections = this.#routes.recipients(envelope);
    if (!connections) this.#io.to(envelope.roomId).emit('room:event', envelope);
    else for (const socket of connections) socket.emit('room:event', envelope);
  }

  /** Idempotent. Disconnects every signaling server, letting queued events out first, and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // io.close() discards what sockets still buffer (such as the rooms' last roomClosed); a
    // disconnect from this side flushes first, so wait for that, but not for a stuck peer.
    const flushed = [...this.#io.sockets.sockets.values()].map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.conn.once('close', () => resolve());
          socket.disconnect(true);
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(flushed), new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)))]);
    clearTimeout(timer);
    // Also closes the HTTP server, and resolves once it has.
    await this.#io.close();
  }

  #accept(socket: ControlSocket): void {
    const logger = this.#options.logger.child({ signalingId: socket.data.signalingId });
    logger.info('signaling connected');
    socket.on('disconnect', (reason) => {
      logger.info({ reason }, 'signaling disconnected');
      this.#routes.forget(socket);
      this.#options.onConnectionLost(socket.id);
    });
    for (const name of CONTROL_REQUEST_NAMES) {
      // Read the arguments loosely: a sender may omit the payload, the ack, or add extras.
      const listener = (...args: unknown[]): void => void this.#answer(name, args, socket, logger);
      socket.on(name, listener);
    }
    socket.on('room:unsubscribe', (payload: unknown) => {
      const request = RoomUnsubscribe.safeParse(payload);
      if (!request.success) return logger.warn('dropped a malformed room:unsubscribe');
      void socket.leave(request.data.roomId);
      this.#routes.forget(socket, request.data.roomId);
    });
  }

  async #answer(name: ControlRequestName, args: unknown[], socket: ControlSocket, logger: Logger): Promise<void> {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as (result: Result<unknown>) => void) : undefined;
    let result: Result<unknown>;
    try {
      result = ok(await this.#handle(name, args[0], socket));
    } catch (error) {
      if (!(error instanceof ProtocolError)) logger.error({ err: error, request: name }, 'control request failed');
      result = fail(error);
    }
    ack?.(result);
  }

  async #handle<N extends ControlRequestName>(name: N, payload: unknown, socket: ControlSocket): Promise<ControlResponse<N>> {
    // Parsed with the schema of `name`, so it is that request; TypeScript cannot correlate the two.
    const request = parseRequest<unknown>(controlRequests[name].request, payload) as ControlRequest<N>;
    const handler: ControlHandlers[N] = this.#options.handlers[name];
    if (name !== 'peer.join') return handler(request, socket);
    const { roomId, peerId } = request as ControlRequest<'peer.join'>;
    // Subscribed before the room admits the peer: no event of the room for it can come first.
    void socket.join(roomId);
    const joined = await handler(request, socket);
    this.#routes.joined(roomId, peerId, socket);
    return joined;
  }
}

/** Hashing first gives both sides one length, so the comparison is constant-time whatever was sent. */
const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();
