import {
  fail,
  ok,
  ProtocolError,
  realtimeRequests,
  SERVER_ROOM_PREFIX,
  serverRoom,
  type ConnectionPresence,
  type Result,
} from '@concord/protocol';
import { isTransition, type PresenceChange, type PresenceStore } from '@concord/registry';
import type { Logger } from 'pino';
import { TokenBucket } from './rate-limiter';
import type { SignalingServer, SignalingSocket } from './types';

/**
 * The servers a user belongs to: the rooms a connecting socket joins, where its user's presence is
 * announced. (While connected, the API keeps them current with addToServerRoom/removeFromServerRoom.)
 */
export interface ServerMembershipSource {
  /**
   * `sessionToken` is the user's own session token when a socket of the user is connecting (an
   * implementation may call the API as the user, e.g. GET /api/users/@me/servers); it is absent
   * when signaling asks on its own, to announce that a crashed instance's users went offline.
   */
  serversOf(userId: string, sessionToken?: string): Promise<string[]>;
}

/** No source: sockets join server rooms only through the API's publisher (a cluster's signaling asks the API: ApiServerMemberships). */
export const NO_SERVER_MEMBERSHIPS: ServerMembershipSource = { serversOf: async () => [] };

export interface PresenceTrackerOptions {
  /** This signaling instance, as the store knows it. */
  instanceId: string;
  heartbeatMs: number;
  /** How long after its last heartbeat a silent (crashed) instance's connections stop counting. */
  ttlMs: number;
}

/** presence:set requests one socket may make: a burst, then a sustained rate per second. */
const SET_BURST = 10;
const SET_PER_SECOND = 2;

/**
 * This instance's side of presence: registers its sockets in the shared PresenceStore, heartbeats
 * for them, and announces every transition of a user's aggregate status as `presence:updated` to
 * the rooms of the user's servers. Each socket's presence operations run in order (a disconnect
 * never overtakes its connect); the store makes them atomic across instances.
 */
export class PresenceTracker {
  /** Local sockets and what each reports, for re-registering after a lapse. */
  private readonly local = new Map<SignalingSocket, ConnectionPresence>();
  private readonly queues = new WeakMap<SignalingSocket, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  /** The first heartbeat: the store counts no connection of an instance before it. */
  private readonly ready: Promise<void>;
  private beating = false;
  private closed = false;

  constructor(
    private readonly io: SignalingServer,
    private readonly store: PresenceStore,
    private readonly membership: ServerMembershipSource,
    private readonly options: PresenceTrackerOptions,
    private readonly log: Logger,
  ) {
    this.ready = this.track(this.beat());
    this.timer = setInterval(() => void this.track(this.beat()), options.heartbeatMs).unref();
  }

  /** Registers a new socket (already authenticated and in its user room) and serves its presence requests. */
  bind(socket: SignalingSocket, sessionToken: string): void {
    const { userId } = socket.data;
    this.local.set(socket, 'online');
    let serverRooms: string[] = [];
    // Rooms are left before 'disconnect'; the announcement of going offline goes to these.
    socket.on('disconnecting', () => {
      serverRooms = serverRoomsOf(socket);
    });
    socket.on('disconnect', () => {
      this.local.delete(socket);
      this.enqueue(socket, async () => this.announce(await this.store.disconnected(userId, socket.id), serverRooms));
    });

    const bucket = new TokenBucket(SET_BURST, SET_PER_SECOND);
    socket.on('presence:set', (...args: unknown[]) => {
      // Read loosely, as voice requests are: a client may send anything.
      const reply = typeof args.at(-1) === 'function' ? (args.pop() as (result: Result<unknown>) => void) : undefined;
      if (!reply) {
        socket.emit('protocol:error', { event: 'presence:set', code: 'BAD_REQUEST', message: 'requests must carry an acknowledgement callback' });
        return;
      }
      if (!bucket.take()) return reply(fail(new ProtocolError('RATE_LIMITED', 'too many requests; slow down')));
      const parsed = realtimeRequests['presence:set'].request.safeParse(args[0]);
      if (!parsed.success) return reply(fail(new ProtocolError('BAD_REQUEST', `presence:set: ${parsed.error.issues[0]?.message ?? 'invalid payload'}`)));
      const { status } = parsed.data;
      this.enqueue(socket, async () => {
        try {
          if (this.local.has(socket)) {
            this.local.set(socket, status);
            this.announce(await this.store.setStatus(userId, socket.id, status), serverRoomsOf(socket));
          }
          reply(ok({}));
        } catch (error) {
          reply(fail(error));
          throw error;
        }
      });
    });

    this.enqueue(socket, async () => {
      const servers = await this.membership.serversOf(userId, sessionToken).catch((error: unknown) => {
        this.log.warn({ err: error, userId }, 'could not list the servers of a connecting user');
        return [];
      });
      if (!this.local.has(socket)) return;
      socket.join(servers.map(serverRoom));
      this.announce(await this.store.connected(userId, socket.id, this.options.instanceId, 'online'), serverRoomsOf(socket));
    });
  }

  /** Stops heartbeating and takes this instance's connections out of the store. Sockets must be closed first. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    try {
      // Nothing is left unless a disconnect failed to reach the store; then this is the last chance.
      await Promise.all((await this.store.dropInstance(this.options.instanceId)).map((change) => this.announceElsewhere(change)));
    } catch (error) {
      this.log.warn({ err: error }, 'could not drop this instance from the presence store');
    }
  }

  private async beat(): Promise<void> {
    if (this.beating || this.closed) return;
    this.beating = true;
    try {
      const known = await this.store.heartbeat(this.options.instanceId, this.options.ttlMs);
      // Swept while alive (a stall longer than the TTL): register every local socket again.
      if (!known) for (const socket of this.local.keys()) this.enqueue(socket, () => this.register(socket));
      for (const change of await this.store.sweep()) await this.announceElsewhere(change);
    } catch (error) {
      this.log.warn({ err: error }, 'presence heartbeat failed');
    } finally {
      this.beating = false;
    }
  }

  private async register(socket: SignalingSocket): Promise<void> {
    const status = this.local.get(socket);
    if (!status) return;
    this.announce(await this.store.connected(socket.data.userId, socket.id, this.options.instanceId, status), serverRoomsOf(socket));
  }

  private announce(change: PresenceChange, rooms: string[]): void {
    if (!isTransition(change) || rooms.length === 0) return;
    this.io.to(rooms).emit('presence:updated', { userId: change.userId, status: change.current });
  }

  /** A transition of a user with no socket here to know their rooms (their instance crashed). */
  private async announceElsewhere(change: PresenceChange): Promise<void> {
    if (!isTransition(change)) return;
    try {
      this.announce(change, (await this.membership.serversOf(change.userId)).map(serverRoom));
    } catch (error) {
      this.log.warn({ err: error, userId: change.userId }, 'could not announce a presence change');
    }
  }

  /** Runs `operation` after the socket's earlier ones. */
  private enqueue(socket: SignalingSocket, operation: () => Promise<void>): void {
    const next = (this.queues.get(socket) ?? this.ready).then(operation).catch((error: unknown) => {
      this.log.warn({ err: error, userId: socket.data.userId }, 'presence update failed');
    });
    this.queues.set(socket, next);
    void this.track(next);
  }

  private track(operation: Promise<void>): Promise<void> {
    this.pending.add(operation);
    operation.then(
      () => this.pending.delete(operation),
      () => this.pending.delete(operation),
    );
    return operation;
  }
}

const serverRoomsOf = (socket: SignalingSocket): string[] => [...socket.rooms].filter((room) => room.startsWith(SERVER_ROOM_PREFIX));
