import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import {
  ProtocolError,
  realtimeRedisKey,
  serverRoom,
  userRoom,
  voiceRevocationKeysOf,
  type RealtimeEvent,
  type RealtimeEventName,
  type RealtimeInterServerEvents,
  type RealtimeServerToClientEvents,
  type SessionRevocation,
  type VoicePermissions,
  type VoiceRemoval,
} from '@concord/protocol';
import { RedisServerMemberships } from '@concord/registry';
import { checkedEvent, checkedRevocation, checkedVoicePermissions, checkedVoiceRemoval, type Audience, type RealtimePublisher } from './publisher';

export interface RedisRealtimePublisherOptions {
  /** The deployment's REDIS_KEY_PREFIX; signaling's Redis adapter must use the same. Default `concord:`. */
  keyPrefix?: string;
}

const SET_VOICE_PERMISSIONS: keyof RealtimeInterServerEvents = 'voice:setPermissions';
const REVOKE_SESSIONS: keyof RealtimeInterServerEvents = 'session:revoked';
const REMOVE_FROM_VOICE: keyof RealtimeInterServerEvents = 'voice:remove';

/**
 * The cluster path: socket.io's Redis emitter publishes on the channels signaling's Redis adapter
 * listens to, so every signaling process delivers to its own sockets in the target rooms.
 */
export class RedisRealtimePublisher implements RealtimePublisher {
  private readonly redis: Redis;
  private readonly emitter: Emitter<RealtimeServerToClientEvents>;
  private readonly keyPrefix: string;
  /** What signaling remembers of connected users' servers, to announce for a crashed instance. */
  private readonly memberships: RedisServerMemberships;
  /** The publishes of the emitter call under way (the emitter drops its client's promises). */
  private sent: Promise<unknown>[] | undefined;

  constructor(redisUrl: string, options: RedisRealtimePublisherOptions = {}) {
    // As the room registry's client: fail within seconds instead of queueing while Redis is down.
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    this.redis.on('error', () => {});
    this.keyPrefix = options.keyPrefix ?? 'concord:';
    this.memberships = new RedisServerMemberships(redisUrl, { keyPrefix: this.keyPrefix });
    const client = {
      publish: (channel: string, message: string | Buffer) => {
        const sent = this.redis.publish(channel, message);
        // Observed here so that no failure goes unhandled; send() rethrows it to the caller.
        sent.catch(() => {});
        this.sent?.push(sent);
        return sent;
      },
    };
    this.emitter = new Emitter<RealtimeServerToClientEvents>(client, { key: realtimeRedisKey(this.keyPrefix) });
  }

  async publish<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): Promise<void> {
    const checked = checkedEvent(audience, event, data);
    if (checked.userIds.length === 0) return;
    // socket.io's typings cannot narrow the event map through the generic E; checkedEvent holds the types.
    const rooms = this.emitter.to(checked.userIds.map(userRoom)) as unknown as { emit(event: string, data: unknown): boolean };
    await this.send(() => rooms.emit(event, checked.data));
  }

  async addToServerRoom(userId: string, serverId: string): Promise<void> {
    await this.memberships.joined(userId, serverId);
    await this.send(() => this.emitter.in(userRoom(userId)).socketsJoin(serverRoom(serverId)));
  }

  async removeFromServerRoom(userId: string, serverId: string): Promise<void> {
    await this.memberships.left(userId, serverId);
    await this.send(() => this.emitter.in(userRoom(userId)).socketsLeave(serverRoom(serverId)));
  }

  async setVoicePermissions(userId: string, roomId: string, permissions: VoicePermissions): Promise<void> {
    const change = checkedVoicePermissions(userId, roomId, permissions);
    await this.send(() => this.emitter.serverSideEmit(SET_VOICE_PERMISSIONS, change));
  }

  async revokeSessions(revocation: SessionRevocation): Promise<void> {
    const checked = checkedRevocation(revocation);
    await this.send(() => this.emitter.serverSideEmit(REVOKE_SESSIONS, checked));
  }

  /** Recorded in Redis (where signaling checks every join) before it is published: a join that misses the message still finds the record. */
  async removeFromVoice(removal: VoiceRemoval): Promise<void> {
    const checked = checkedVoiceRemoval(removal);
    const batch = this.redis.multi();
    for (const key of voiceRevocationKeysOf(this.keyPrefix, checked)) batch.set(key, String(checked.at), 'PXAT', checked.until);
    try {
      await batch.exec();
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `recording a voice removal: ${(error as Error).message}`);
    }
    await this.send(() => this.emitter.serverSideEmit(REMOVE_FROM_VOICE, checked));
  }

  async close(): Promise<void> {
    await Promise.all([this.redis.quit().catch(() => this.redis.disconnect()), this.memberships.close()]);
  }

  /** Runs one emitter call and waits for what it published; a Redis failure is UNAVAILABLE. */
  private async send(call: () => void): Promise<void> {
    const sent: Promise<unknown>[] = [];
    this.sent = sent;
    try {
      call();
    } finally {
      this.sent = undefined;
    }
    try {
      await Promise.all(sent);
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `real-time publish: ${(error as Error).message}`);
    }
  }
}
