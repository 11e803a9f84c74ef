import {
  fail,
  ok,
  ProtocolError,
  roomRequests,
  voiceRequests,
  type JoinResponse,
  type Result,
  type RoomRequestName,
  type VoiceRequest,
  type VoiceRequestName,
} from '@concord/protocol';
import type { Logger } from 'pino';
import type { RoomRegistry } from '@concord/registry';
import { TokenBucket } from './rate-limiter';
import type { SfuConnections } from './sfu-connections';
import type { TokenVerifier } from './token-verifier';
import type { SignalingSocket } from './types';
import type { VoiceSessions } from './voice-sessions';

export interface VoiceHandlerDeps {
  registry: RoomRegistry;
  sfu: SfuConnections;
  verifier: TokenVerifier;
  sessions: VoiceSessions;
  log: Logger;
  limits: { rateBurst: number; ratePerSecond: number; maxPayloadBytes: number; maxQueuedRequests: number };
}

const REQUEST_NAMES = Object.keys(voiceRequests) as VoiceRequestName[];

/**
 * Binds the voice protocol to one authenticated socket. Every request is size-checked,
 * rate-limited, schema-validated and then handled in arrival order (a peer's requests depend on
 * each other: connect before produce); every ack is a Result.
 */
export function bindVoiceHandlers(socket: SignalingSocket, deps: VoiceHandlerDeps): void {
  const bucket = new TokenBucket(deps.limits.rateBurst, deps.limits.ratePerSecond);
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;

  for (const name of REQUEST_NAMES) {
    socket.on(name, (payload: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (result: Result<unknown>) => void) : undefined;
      const checked = check(name, payload);
      if (checked instanceof ProtocolError) return answer(name, reply, fail(checked));
      queued += 1;
      queue = queue
        .then(() => handle(name, checked.data, socket, deps))
        .then(
          (data) => answer(name, reply, ok(data)),
          (error: unknown) => {
            if (!(error instanceof ProtocolError)) deps.log.error({ err: error, event: name, userId: socket.data.userId }, 'voice request failed');
            answer(name, reply, fail(error));
          },
        )
        .finally(() => {
          queued -= 1;
        });
    });
  }

  socket.on('disconnect', () => {
    const membership = deps.sessions.exit(socket);
    if (!membership) return;
    // The SFU keeps the peer's place for its grace period, so a quick reconnect rejoins as the same peer.
    deps.sfu
      .request(membership.node, 'peer.disconnect', { roomId: membership.roomId, peerId: socket.data.userId })
      .catch((error: unknown) => deps.log.warn({ err: error, roomId: membership.roomId }, 'peer.disconnect failed'));
  });

  function check(name: VoiceRequestName, payload: unknown): ProtocolError | { data: unknown } {
    if (!bucket.take() || queued >= deps.limits.maxQueuedRequests) return new ProtocolError('RATE_LIMITED', 'too many requests; slow down');
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(payload) ?? '');
    } catch {
      return new ProtocolError('BAD_REQUEST', 'payload is not JSON');
    }
    if (size > deps.limits.maxPayloadBytes) return new ProtocolError('PAYLOAD_TOO_LARGE', `payload is ${size} bytes; the limit is ${deps.limits.maxPayloadBytes}`);
    const parsed = voiceRequests[name].request.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return new ProtocolError('BAD_REQUEST', `${name}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'invalid payload'}`);
    }
    return { data: parsed.data };
  }

  function answer(name: VoiceRequestName, reply: ((result: Result<unknown>) => void) | undefined, result: Result<unknown>): void {
    if (reply) return reply(result);
    // No ack to answer through: tell the client once, on a side channel, rather than dropping silently.
    socket.emit('protocol:error', {
      event: name,
      code: result.ok ? 'BAD_REQUEST' : result.error.code,
      message: result.ok ? 'requests must carry an acknowledgement callback' : result.error.message,
    });
  }
}

async function handle(name: VoiceRequestName, payload: unknown, socket: SignalingSocket, deps: VoiceHandlerDeps): Promise<unknown> {
  switch (name) {
    case 'voice:join':
      return join(payload as VoiceRequest<'voice:join'>, socket, deps);
    case 'voice:leave':
      return leave(socket, deps);
    default:
      return forward(name, payload, socket, deps);
  }
}

async function join(request: VoiceRequest<'voice:join'>, socket: SignalingSocket, deps: VoiceHandlerDeps): Promise<JoinResponse> {
  const grant = await deps.verifier.grant(request.grant);
  if (grant.sub !== socket.data.userId) throw new ProtocolError('GRANT_INVALID', 'the grant belongs to another user');
  if (deps.sessions.membership(socket)) await leave(socket, deps);
  const node = await deps.registry.placeRoom(grant.room);
  const response = await deps.sfu.request(node, 'peer.join', {
    roomId: grant.room,
    peerId: socket.data.userId,
    displayName: grant.name,
    permissions: grant.perms,
  });
  const displaced = deps.sessions.enter(socket, { roomId: grant.room, node });
  // The same user joined from another tab or device: the newer session owns the peer.
  displaced?.emit('voice:roomClosed', { roomId: grant.room, reason: 'joined from another session' });
  deps.log.info({ userId: socket.data.userId, roomId: grant.room, nodeId: node.id }, 'peer joined room');
  return response;
}

async function leave(socket: SignalingSocket, deps: VoiceHandlerDeps): Promise<Record<string, never>> {
  const membership = deps.sessions.exit(socket);
  if (!membership) throw new ProtocolError('NOT_IN_ROOM', 'not in a voice room');
  await deps.sfu.request(membership.node, 'peer.leave', { roomId: membership.roomId, peerId: socket.data.userId });
  return {};
}

async function forward(name: RoomRequestName, data: unknown, socket: SignalingSocket, deps: VoiceHandlerDeps): Promise<unknown> {
  const membership = deps.sessions.membership(socket);
  if (!membership) throw new ProtocolError('NOT_IN_ROOM', 'join a voice room first');
  // Room and peer come from the server's own state, never from the client.
  const response = await deps.sfu.request(membership.node, 'peer.request', { roomId: membership.roomId, peerId: socket.data.userId, name, data });
  return roomRequests[name].response.parse(response);
}
