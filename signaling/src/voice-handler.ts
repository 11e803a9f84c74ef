import {
  fail,
  ok,
  ProtocolError,
  roomRequests,
  voiceRequests,
  type ControlRequest,
  type JoinResponse,
  type Result,
  type RoomRequestName,
  type SfuNodeInfo,
  type VoicePermissions,
  type VoiceRequest,
  type VoiceRequestName,
} from '@concord/protocol';
import type { Logger } from 'pino';
import type { RoomRegistry } from '@concord/registry';
import type { SignalingMetrics } from './metrics';
import { TokenBucket } from './rate-limiter';
import type { SessionGuard } from './session-guard';
import type { SfuConnections } from './sfu-connections';
import type { TokenVerifier } from './token-verifier';
import type { VoiceSocket } from './types';
import { grantVoided, type VoiceRemovals } from './voice-removals';
import type { VoiceSessions } from './voice-sessions';

export interface VoiceHandlerDeps {
  registry: RoomRegistry;
  sfu: SfuConnections;
  verifier: TokenVerifier;
  sessions: VoiceSessions;
  removals: VoiceRemovals;
  guard: SessionGuard;
  log: Logger;
  metrics: SignalingMetrics;
  limits: { rateBurst: number; ratePerSecond: number; maxPayloadBytes: number; maxQueuedRequests: number };
}

const REQUEST_NAMES = Object.keys(voiceRequests) as VoiceRequestName[];

/**
 * Binds the voice protocol to one authenticated socket. Every request is size-checked,
 * rate-limited, schema-validated and then handled in arrival order (a peer's requests depend on
 * each other: connect before produce); every ack is a Result.
 */
export function bindVoiceHandlers(socket: VoiceSocket, deps: VoiceHandlerDeps): void {
  const bucket = new TokenBucket(deps.limits.rateBurst, deps.limits.ratePerSecond);
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;

  for (const name of REQUEST_NAMES) {
    // Read the arguments loosely: socket.io passes the ack last, so a request sent with an ack but
    // no payload arrives as (ack) and must still be answered through it.
    socket.on(name, (...args: unknown[]) => {
      const startedAt = performance.now();
      const reply = typeof args.at(-1) === 'function' ? (args.pop() as (result: Result<unknown>) => void) : undefined;
      const checked = check(name, args[0]);
      if (checked instanceof ProtocolError) return answer(name, reply, fail(checked), startedAt);
      // A request whose answer cannot reach the client is refused, not carried out unseen.
      if (!reply) return answer(name, reply, fail(new ProtocolError('BAD_REQUEST', 'requests must carry an acknowledgement callback')), startedAt);
      queued += 1;
      queue = queue
        .then(() => handle(name, checked.data, socket, deps))
        .then(
          (data) => answer(name, reply, ok(data), startedAt),
          (error: unknown) => {
            if (!(error instanceof ProtocolError)) deps.log.error({ err: error, event: name, userId: socket.data.userId }, 'voice request failed');
            answer(name, reply, fail(error), startedAt);
          },
        )
        .finally(() => {
          queued -= 1;
          // After the answer: a join's room events were held until the client had it.
          deps.sessions.release(socket);
        });
    });
  }

  socket.on('disconnect', () => {
    const membership = deps.sessions.exit(socket);
    if (!membership) return;
    // The SFU keeps the peer's place for its grace period, so a quick reconnect rejoins as the same peer.
    deps.sfu
      .request(membership.node, 'peer.disconnect', peerOf(socket, membership.roomId))
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
    // A missing grant is GRANT_INVALID (errors.ts), so the client fetches one instead of reporting a bug.
    if (name === 'voice:join' && isObject(payload) && (payload.grant ?? '') === '') return new ProtocolError('GRANT_INVALID', 'voice grant missing');
    const parsed = voiceRequests[name].request.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return new ProtocolError('BAD_REQUEST', `${name}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'invalid payload'}`);
    }
    return { data: parsed.data };
  }

  function answer(name: VoiceRequestName, reply: ((result: Result<unknown>) => void) | undefined, result: Result<unknown>, startedAt: number): void {
    deps.metrics.answered(name, result, startedAt);
    if (reply) return reply(result);
    // No ack to answer through (only refusals get here): tell the client on a side channel rather than dropping silently.
    if (!result.ok) socket.emit('protocol:error', { event: name, code: result.error.code, message: result.error.message });
  }
}

/** The socket's peer as the SFU knows it: the user's peer, held by this socket's session. */
const peerOf = (socket: VoiceSocket, roomId: string): ControlRequest<'peer.leave'> => ({ roomId, peerId: socket.data.userId, sessionId: socket.id });

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

async function handle(name: VoiceRequestName, payload: unknown, socket: VoiceSocket, deps: VoiceHandlerDeps): Promise<unknown> {
  switch (name) {
    case 'voice:join':
      return join(payload as VoiceRequest<'voice:join'>, socket, deps);
    case 'voice:leave':
      return leave(socket, deps);
    default:
      return forward(name, payload, socket, deps);
  }
}

async function join(request: VoiceRequest<'voice:join'>, socket: VoiceSocket, deps: VoiceHandlerDeps): Promise<JoinResponse> {
  const grant = await deps.verifier.grant(request.grant);
  if (grant.sub !== socket.data.userId) throw new ProtocolError('GRANT_INVALID', 'the grant belongs to another user');
  // A grant works only with the session it was issued under, and only while that session lives.
  if (grant.sid !== socket.data.sessionId) throw new ProtocolError('GRANT_INVALID', 'the grant belongs to another session');
  await deps.guard.admit(grant.sid);
  // Its lifetime is not enough: a kick, ban or lost permission after the grant was checked voids it.
  if (await deps.removals.voids(grant)) throw grantVoided();
  if (deps.sessions.membership(socket)) await leave(socket, deps);
  const admission: Admission = { roomId: grant.room, displayName: grant.name, permissions: grant.perms, transports: false };
  const { node, response } = await admit(socket, admission, deps);
  admissions.set(socket, admission);
  if (socket.disconnected) {
    // The socket dropped while the SFU admitted it, so its disconnect found no room to leave: start
    // the peer's grace period now, or it would stay in the room for good. (Should a newer session
    // hold the peer by now, the SFU ignores this.)
    await deps.sfu.request(node, 'peer.disconnect', peerOf(socket, grant.room));
    throw new ProtocolError('NOT_IN_ROOM', 'disconnected while joining');
  }
  deps.sessions.enter(socket, { roomId: grant.room, node });
  // A removal published while the SFU admitted us found no session here to take out.
  if (await deps.removals.voids(grant)) {
    await leave(socket, deps);
    throw grantVoided();
  }
  deps.log.info({ userId: socket.data.userId, roomId: grant.room, nodeId: node.id }, 'peer joined room');
  return response;
}

/** What a socket was admitted to a room with, so that it can be admitted again on another node. */
interface Admission {
  roomId: string;
  displayName: string;
  permissions: VoicePermissions;
  /** Whether the peer has created a transport (has media) since. */
  transports: boolean;
}

const admissions = new WeakMap<VoiceSocket, Admission>();

/** Most nodes one join tries when nodes refuse it for capacity (their load in the registry lagged behind). */
const MAX_PLACEMENTS = 4;

const isCapacity = (error: unknown): boolean => error instanceof ProtocolError && error.code === 'CAPACITY';

/**
 * Places the peer (the room's primary node while it has headroom, else another node carrying the
 * room, else a new one: RoomRegistry.placePeer) and joins it there. A node refusing it for capacity
 * is passed over and the peer placed again: a full node is never the user's failure.
 */
async function admit(socket: VoiceSocket, admission: Admission, deps: VoiceHandlerDeps, refused: string[] = []): Promise<{ node: SfuNodeInfo; response: JoinResponse }> {
  for (;;) {
    const node = await deps.sfu.place(admission.roomId, refused);
    deps.metrics.roomPlaced(node.id);
    // Events the SFU sends us once it has admitted us wait until the client has its answer.
    deps.sessions.hold(socket, admission.roomId, node.id);
    try {
      // Another session holding the user's peer (another tab or device, through any signaling process)
      // is displaced by the SFU, which tells it so ahead of this answer.
      const join = { ...peerOf(socket, admission.roomId), displayName: admission.displayName, permissions: admission.permissions };
      return { node, response: await deps.sfu.request(node, 'peer.join', join) };
    } catch (error) {
      if (!isCapacity(error) || refused.length + 1 >= MAX_PLACEMENTS) throw error;
      refused.push(node.id);
      deps.log.info({ userId: socket.data.userId, roomId: admission.roomId, nodeId: node.id }, 'SFU node at capacity; placing the peer elsewhere');
    }
  }
}

async function leave(socket: VoiceSocket, deps: VoiceHandlerDeps): Promise<Record<string, never>> {
  const membership = deps.sessions.exit(socket);
  if (!membership) throw new ProtocolError('NOT_IN_ROOM', 'not in a voice room');
  await deps.sfu.request(membership.node, 'peer.leave', peerOf(socket, membership.roomId));
  return {};
}

async function forward(name: RoomRequestName, data: unknown, socket: VoiceSocket, deps: VoiceHandlerDeps): Promise<unknown> {
  const membership = deps.sessions.membership(socket);
  if (!membership) throw new ProtocolError('NOT_IN_ROOM', 'join a voice room first');
  // Room and peer come from the server's own state, never from the client.
  const request = (node: SfuNodeInfo) => deps.sfu.request(node, 'peer.request', { ...peerOf(socket, membership.roomId), name, data });
  const admission = admissions.get(socket);
  let response: unknown;
  try {
    response = await request(membership.node);
  } catch (error) {
    if (name !== 'voice:createTransport' || !isCapacity(error) || !admission || admission.transports) throw error;
    // The node filled up between the join and the peer's first transport: with no media yet, the
    // peer moves to a node with headroom, unnoticed (every node's routers offer the same codecs).
    await leave(socket, deps);
    const { node } = await admit(socket, admission, deps, [membership.node.id]);
    deps.sessions.enter(socket, { roomId: membership.roomId, node });
    deps.log.info({ userId: socket.data.userId, roomId: membership.roomId, nodeId: node.id }, 'peer moved to another SFU node: its node reached capacity');
    response = await request(node);
  }
  if (admission && name === 'voice:createTransport') admission.transports = true;
  return roomRequests[name].response.parse(response);
}
