import type { Logger } from 'pino';
import type { PresenceStatus, RealtimeEvent, RealtimeEventName } from '@concord/protocol';
import type { GuildAccess, GuildData } from '../access';
import type { Database } from '../db';
import type { VoiceGrantIssuer } from '../grants';
import type { RealtimePublisher } from '../realtime';
import type { ServerCaps } from './server-caps';
import type { VoicePermissionSync } from './voice-sync';

/** Who is online, when the API can see it (signaling's presence store). */
export interface PresenceReader {
  statusOf(userIds: readonly string[]): Promise<Map<string, PresenceStatus>>;
}

/** Per-user and per-IP limits of joining servers and creating invites (the messages half's ApiRateLimits). */
export interface GuildRateLimits {
  enforce(action: 'invite' | 'join' | 'create-server', caller: { userId: string; ip: string }): Promise<void>;
}

export interface GuildDeps {
  db: Database;
  data: GuildData;
  access: GuildAccess;
  realtime: RealtimePublisher;
  /** How long voice grants live: removals from voice rooms void older grants for as long. */
  grants: Pick<VoiceGrantIssuer, 'grantTtlSeconds'>;
  presence?: PresenceReader;
  limits?: GuildRateLimits;
  /** Default DEFAULT_SERVER_CAPS. */
  serverCaps?: ServerCaps;
  logger: Logger;
}

/**
 * What a write does once its transaction has committed: drop the cache keys it changed, then tell
 * clients. Both are best effort (the write stands either way): a failed publish is logged, and
 * clients resynchronise through REST when they reconnect.
 */
export class Effects {
  constructor(private readonly deps: Pick<GuildDeps, 'data' | 'realtime' | 'logger'>) {}

  invalidate(keys: readonly string[]): Promise<void> {
    return this.deps.data.invalidate(keys);
  }

  async publish<E extends RealtimeEventName>(userIds: readonly string[], event: E, data: RealtimeEvent<E>): Promise<void> {
    if (userIds.length === 0) return;
    await this.deps.realtime.publish({ userIds }, event, data).catch((error: unknown) => this.deps.logger.warn({ err: error, event }, 'real-time publish failed'));
  }

  async joinServerRoom(userId: string, serverId: string): Promise<void> {
    await this.deps.realtime.addToServerRoom(userId, serverId).catch((error: unknown) => this.deps.logger.warn({ err: error }, 'server room join failed'));
  }

  async leaveServerRoom(userIds: readonly string[], serverId: string): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.deps.realtime.removeFromServerRoom(userId, serverId).catch((error: unknown) => this.deps.logger.warn({ err: error }, 'server room leave failed')),
      ),
    );
  }
}

/** What every route module of the guild half is given. */
export interface GuildModule {
  deps: GuildDeps;
  effects: Effects;
  voice: VoicePermissionSync;
}
