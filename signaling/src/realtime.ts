import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import {
  realtimeRedisKey,
  serverRoom,
  userRoom,
  SessionRevocation,
  VoicePermissionsChange,
  VoiceRemoval,
  type RealtimeEvent,
  type RealtimeEventName,
  type RealtimeSink,
} from '@concord/protocol';
import { InProcessPresenceStore, type PresenceStore, type RoomRegistry } from '@concord/registry';
import type { Logger } from 'pino';
import { NO_SERVER_MEMBERSHIPS, PresenceTracker, type ServerMembershipSource } from './presence';
import type { SessionGuard } from './session-guard';
import type { SfuConnections } from './sfu-connections';
import type { SignalingServer, SignalingSocket } from './types';
import { VoiceRemovals } from './voice-removals';
import { InProcessVoiceRevocations, RedisVoiceRevocations, type VoiceRevocations } from './voice-revocations';
import type { VoiceSessions } from './voice-sessions';

/** How a signaling instance takes part in real-time delivery and presence (all optional: embedded defaults). */
export interface SignalingRealtimeDeps {
  /** Shared by every instance of a cluster (RedisPresenceStore). Default: an in-process store this instance owns. */
  presence?: PresenceStore;
  /** The servers of a connecting user. Default: none (see NO_SERVER_MEMBERSHIPS). */
  membership?: ServerMembershipSource;
  /**
   * A cluster: socket.io's Redis adapter, so that rooms, the API's emitter and presence
   * announcements reach the sockets of every signaling instance. `keyPrefix` is REDIS_KEY_PREFIX,
   * shared with the API's RedisRealtimePublisher.
   */
  redis?: { url: string; keyPrefix: string };
  /** Default 5 s. */
  presenceHeartbeatMs?: number;
  /** Default 15 s: a crashed instance's users go offline this long after its last heartbeat. */
  presenceTtlMs?: number;
}

interface RealtimeContext {
  instanceId: string;
  sessions: VoiceSessions;
  sfu: SfuConnections;
  registry: RoomRegistry;
  guard: SessionGuard;
  log: Logger;
}

/**
 * Signaling's side of real-time delivery. Every socket joins `user:<userId>`; events the API
 * publishes for an audience reach those rooms (through the Redis adapter in a cluster, through this
 * class as the RealtimeSink in one process), and voice permission changes reach the instance holding
 * the user's voice session, which applies them on the SFU.
 */
export class RealtimeDelivery implements RealtimeSink {
  readonly presence: PresenceTracker;
  /** Removals from voice rooms; the voice handler asks it whether a grant still admits. */
  readonly removals: VoiceRemovals;
  /** Without Redis, removals are remembered here, as the API hands them over. */
  private readonly localRevocations: InProcessVoiceRevocations | undefined = undefined;
  private readonly store: PresenceStore;
  private readonly ownsStore: boolean;
  private readonly adapterClients: Redis[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly io: SignalingServer,
    private readonly context: RealtimeContext,
    deps: SignalingRealtimeDeps = {},
  ) {
    let revocations: VoiceRevocations;
    if (deps.redis) {
      this.attachRedisAdapter(deps.redis.url, deps.redis.keyPrefix);
      revocations = new RedisVoiceRevocations(deps.redis.url, deps.redis.keyPrefix);
    } else {
      revocations = this.localRevocations = new InProcessVoiceRevocations();
    }
    this.removals = new VoiceRemovals(revocations, context);
    this.ownsStore = !deps.presence;
    this.store = deps.presence ?? new InProcessPresenceStore();
    this.presence = new PresenceTracker(
      io,
      this.store,
      deps.membership ?? NO_SERVER_MEMBERSHIPS,
      { instanceId: context.instanceId, heartbeatMs: deps.presenceHeartbeatMs ?? 5_000, ttlMs: deps.presenceTtlMs ?? 15_000 },
      context.log,
    );
    // From the API's emitter (RedisRealtimePublisher.setVoicePermissions), to every instance.
    io.on('voice:setPermissions', (change) => {
      const parsed = VoicePermissionsChange.safeParse(change);
      if (!parsed.success) return context.log.warn('dropped a malformed voice:setPermissions');
      this.track(this.setVoicePermissions(parsed.data));
    });
    // From the API's emitter (RedisRealtimePublisher.removeFromVoice, which has recorded it in Redis), to every instance.
    io.on('voice:remove', (removal) => {
      const parsed = VoiceRemoval.safeParse(removal);
      if (!parsed.success) return context.log.warn('dropped a malformed voice:remove');
      this.track(this.removals.apply(parsed.data));
    });
    // From the API's emitter (RedisRealtimePublisher.revokeSessions), to every instance.
    io.on('session:revoked', (revocation) => {
      const parsed = SessionRevocation.safeParse(revocation);
      if (!parsed.success) return context.log.warn('dropped a malformed session:revoked');
      this.track(this.revokeSessions(parsed.data));
    });
  }

  /** A newly connected, authenticated socket: its user room, then presence. */
  bind(socket: SignalingSocket): void {
    void socket.join(userRoom(socket.data.userId));
    // The auth middleware verified this token before the connection was accepted.
    this.presence.bind(socket, String(socket.handshake.auth?.token ?? ''));
  }

  deliver<E extends RealtimeEventName>(userIds: readonly string[], event: E, data: RealtimeEvent<E>): void {
    if (userIds.length === 0) return;
    // socket.io cannot narrow its event map through the generic E; the protocol map holds the types.
    const rooms = this.io.to(userIds.map(userRoom)) as unknown as { emit(event: string, data: unknown): boolean };
    rooms.emit(event, data);
  }

  joinServerRoom(userId: string, serverId: string): void {
    this.io.in(userRoom(userId)).socketsJoin(serverRoom(serverId));
  }

  leaveServerRoom(userId: string, serverId: string): void {
    this.io.in(userRoom(userId)).socketsLeave(serverRoom(serverId));
  }

  /**
   * Applies the change on the SFU if a socket of this instance holds the user's peer in the room;
   * every other instance does nothing. Failures are logged: the API has moved on, and the next
   * grant carries the new permissions anyway.
   */
  async setVoicePermissions(change: VoicePermissionsChange): Promise<void> {
    const { userId, roomId, permissions } = change;
    const node = this.context.sessions.nodeOfPeer(roomId, userId);
    if (!node) return;
    try {
      const { closedProducerIds } = await this.context.sfu.request(node, 'peer.setPermissions', { roomId, peerId: userId, permissions });
      this.context.log.info({ userId, roomId, permissions, closedProducerIds }, 'voice permissions changed');
    } catch (error) {
      this.context.log.warn({ err: error, userId, roomId }, 'could not apply voice permissions');
    }
  }

  /** Closes this instance's sockets of the revoked sessions (SessionGuard). */
  revokeSessions(revocation: SessionRevocation): Promise<void> {
    return this.context.guard.revoke(revocation);
  }

  async removeFromVoice(removal: VoiceRemoval): Promise<void> {
    this.localRevocations?.record(removal);
    await this.removals.apply(removal);
  }

  /** After the socket.io server has closed (its sockets gone): presence out, Redis clients closed. */
  async close(): Promise<void> {
    await this.presence.close();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    if (this.ownsStore) await this.store.close();
    await this.removals.close();
    await Promise.all(this.adapterClients.map((client) => client.quit().catch(() => client.disconnect())));
  }

  private attachRedisAdapter(url: string, keyPrefix: string): void {
    const log = this.context.log;
    // The subscriber waits out a Redis outage (ioredis resubscribes on reconnect); the publisher
    // fails fast, and its failures are logged: the adapter does not handle them itself.
    const pub = new Redis(url, { connectTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    const sub = new Redis(url, { connectTimeout: 2_000, maxRetriesPerRequest: null, disconnectTimeout: 200 });
    for (const client of [pub, sub]) client.on('error', (error: Error) => log.warn({ err: error }, 'real-time Redis connection error'));
    this.adapterClients.push(pub, sub);
    this.io.adapter(createAdapter(publishingSafely(pub, log), sub, { key: realtimeRedisKey(keyPrefix) }));
  }

  private track(operation: Promise<void>): void {
    this.pending.add(operation);
    operation.then(
      () => this.pending.delete(operation),
      () => this.pending.delete(operation),
    );
  }
}

/** The client with every publish's failure observed (the adapter ignores the promises it gets). */
function publishingSafely(redis: Redis, log: Logger): Redis {
  return new Proxy(redis, {
    get(target, property) {
      if (property === 'publish') {
        return (channel: string, message: string | Buffer) => {
          const sent = target.publish(channel, message);
          sent.catch((error: unknown) => log.warn({ err: error }, 'real-time publish failed'));
          return sent;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
