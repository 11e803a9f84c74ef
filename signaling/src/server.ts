import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { ProtocolError, REALTIME_NAMESPACE, realtimeRequests, VOICE_NAMESPACE, voiceRequests, type RevokedSessions } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';
import type { SignalingConfig } from './config';
import { InProcessUserConnections, type UserConnections } from './connection-cap';
import { SignalingMetrics, type SignalingMetricsOptions } from './metrics';
import { RealtimeDelivery, type SignalingRealtimeDeps } from './realtime';
import { SessionGuard } from './session-guard';
import { SfuConnections } from './sfu-connections';
import type { TokenVerifier } from './token-verifier';
import type { AnySignalingSocket, SignalingServer, SignalingSocket, VoiceNamespace } from './types';
import { bindVoiceHandlers } from './voice-handler';
import { VoiceSessions } from './voice-sessions';
import { refuseRequestsOf } from './wrong-namespace';

const VOICE_REQUEST_NAMES = Object.keys(voiceRequests);
const REALTIME_REQUEST_NAMES = Object.keys(realtimeRequests);

export interface SignalingDeps {
  config: SignalingConfig;
  registry: RoomRegistry;
  verifier: TokenVerifier;
  /** Where revoked sessions are recorded: the API's sessions in one process, Redis in a cluster. */
  revokedSessions: RevokedSessions;
  log: Logger;
  /** Real-time delivery and presence; embedded defaults when absent. */
  realtime?: SignalingRealtimeDeps;
  metrics?: SignalingMetricsOptions;
  /** Each user's open sockets: in this process by default, in Redis across a cluster. */
  userConnections?: UserConnections;
}

/**
 * A signaling instance attached to an HTTP server: socket.io auth, real-time delivery on `/`, the
 * voice protocol on `/voice`, SFU control.
 */
export class Signaling {
  readonly io: SignalingServer;
  readonly voice: VoiceNamespace;
  readonly sessions = new VoiceSessions((nodeId, roomId) => this.sfu.unsubscribe(nodeId, roomId));
  /** Served as /metrics by the process hosting signaling. */
  readonly metrics: SignalingMetrics;
  /** Delivers the API's events to this instance's sockets; the in-process publisher's sink. */
  readonly realtime: RealtimeDelivery;
  private readonly sfu: SfuConnections;
  private readonly guard: SessionGuard;
  private readonly userConnections: UserConnections;

  constructor(httpServer: HttpServer, deps: SignalingDeps) {
    const { config, log } = deps;
    this.io = new Server(httpServer, {
      // Large enough for any valid request; the voice handler applies the real per-message limit.
      maxHttpBufferSize: 256 * 1024,
      cors: config.corsOrigins.length > 0 ? { origin: config.corsOrigins } : undefined,
      serveClient: false,
    });
    // socket.io types every namespace with the server's event maps; this one has its own.
    this.voice = this.io.of(VOICE_NAMESPACE) as unknown as VoiceNamespace;
    this.metrics = new SignalingMetrics(this.io, this.voice, deps.metrics);
    this.sfu = new SfuConnections(
      { signalingId: config.id, secret: config.sfuSecret, timeoutMs: config.sfuRequestTimeoutMs, registry: deps.registry, metrics: this.metrics },
      {
        onRoomEvent: (nodeId, envelope) => {
          const recipients = this.sessions.deliver(nodeId, envelope);
          // A closed room is no longer where these sockets are; they rejoin with a fresh grant.
          if (envelope.event === 'voice:roomClosed') for (const socket of recipients) this.sessions.exit(socket);
        },
        onNodeLost: (nodeId) => {
          for (const socket of this.sessions.socketsOnNode(nodeId)) {
            const membership = this.sessions.exit(socket);
            if (membership) socket.emit('voice:roomClosed', { roomId: membership.roomId, reason: 'SFU node unavailable' });
          }
        },
      },
      log,
    );

    this.userConnections = deps.userConnections ?? new InProcessUserConnections();
    this.guard = new SessionGuard({ io: this.io, voiceNamespace: this.voice, revoked: deps.revokedSessions, voice: this.sessions, sfu: this.sfu, log });

    // One handshake for both namespaces: the same token, revocation check and per-user cap.
    const authenticate = (socket: AnySignalingSocket, next: (error?: Error) => void): void => {
      const token: unknown = socket.handshake.auth?.token;
      const admitted = async () => {
        const claims = await deps.verifier.session(token);
        await this.guard.admit(claims.sid);
        socket.data.userId = claims.sub;
        socket.data.displayName = claims.name;
        socket.data.sessionId = claims.sid;
        await this.holdConnectionPlace(socket, config.maxSocketsPerUser);
      };
      admitted().then(
        () => next(),
        (error: unknown) => {
          const body = error instanceof ProtocolError ? error.toBody() : { code: 'UNAUTHENTICATED' as const, message: 'authentication failed' };
          // socket.io hands `data` to the client's connect_error; the message stays the bare code.
          next(Object.assign(new Error(body.code), { data: body }));
        },
      );
    };
    this.io.use(authenticate);
    this.voice.use(authenticate);

    this.realtime = new RealtimeDelivery(this.io, { instanceId: config.id, sessions: this.sessions, sfu: this.sfu, registry: deps.registry, guard: this.guard, log }, deps.realtime);

    this.io.on('connection', (socket) => {
      this.realtime.bind(socket);
      void this.guard.bind(socket);
      refuseRequestsOf(socket, VOICE_REQUEST_NAMES, VOICE_NAMESPACE);
      log.debug({ userId: socket.data.userId, socketId: socket.id }, 'real-time socket connected');
    });
    this.voice.on('connection', (socket) => {
      void this.guard.bind(socket);
      refuseRequestsOf(socket, REALTIME_REQUEST_NAMES, REALTIME_NAMESPACE);
      log.debug({ userId: socket.data.userId, socketId: socket.id }, 'voice socket connected');
      bindVoiceHandlers(socket, {
        registry: deps.registry,
        removals: this.realtime.removals,
        sfu: this.sfu,
        verifier: deps.verifier,
        sessions: this.sessions,
        guard: this.guard,
        log,
        metrics: this.metrics,
        limits: { rateBurst: config.rateBurst, ratePerSecond: config.ratePerSecond, maxPayloadBytes: config.maxPayloadBytes, maxQueuedRequests: 32 },
      });
    });
  }

  /** Counts the socket (of either namespace) towards its user's cap until it goes; RATE_LIMITED past the cap. */
  private async holdConnectionPlace(socket: Pick<SignalingSocket, 'id' | 'data' | 'conn'> & { once(event: 'disconnect', listener: () => void): unknown }, max: number): Promise<void> {
    if (max === 0) return;
    const { userId } = socket.data;
    if (!(await this.userConnections.acquire(userId, socket.id, max))) {
      throw new ProtocolError('RATE_LIMITED', `too many connections: at most ${max} per user; close another tab or device first`);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void this.userConnections.release(userId, socket.id);
    };
    // A handshake can fail or its client go before 'connection': the transport's close covers both.
    socket.conn.once('close', release);
    socket.once('disconnect', release);
    if (socket.conn.readyState !== 'open') release();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    await this.userConnections.close();
    await this.realtime.close();
    this.sfu.close();
  }
}
