import type { ChannelKind, PermissionOverwrite } from '@concord/protocol';
import type { CachedLoader } from '../cache';
import type { Queryable } from '../db';

/**
 * The guild data every permission question and most reads need, read through the cache. Each
 * write that changes one of these invalidates its keys (see `guildKeys`) right after it commits.
 */

export interface ServerRecord {
  id: string;
  name: string;
  iconUrl: string | null;
  ownerId: string;
  createdAt: string;
  /** Moderator permissions act only for members with two-factor sign-in. */
  moderatorsNeedTwoFactor: boolean;
}

export interface RoleRecord {
  id: string;
  serverId: string;
  name: string;
  colour: number;
  position: number;
  permissions: number;
  isEveryone: boolean;
}

export interface ChannelRecord {
  id: string;
  serverId: string;
  kind: ChannelKind;
  name: string;
  topic: string | null;
  position: number;
  parentId: string | null;
  overwrites: PermissionOverwrite[];
}

/** One member as permission checks see them. */
export interface MemberRoleRecord {
  userId: string;
  /** Roles besides @everyone. */
  roleIds: string[];
}

export interface MembershipRecord extends MemberRoleRecord {
  nickname: string | null;
  joinedAt: string;
}

export interface UserRecord {
  id: string;
  username: string | null;
  displayName: string;
  avatarUrl: string | null;
}

/** Cache keys, one place: loaders read them, writes invalidate them. */
export const guildKeys = {
  server: (serverId: string) => `server:${serverId}`,
  roles: (serverId: string) => `server:${serverId}:roles`,
  channels: (serverId: string) => `server:${serverId}:channels`,
  /** Every member of a server with their roles (audiences). */
  members: (serverId: string) => `server:${serverId}:members`,
  /** One member (or null: not a member, or banned). */
  member: (serverId: string, userId: string) => `member:${serverId}:${userId}`,
  user: (userId: string) => `user:${userId}`,
  userServers: (userId: string) => `user:${userId}:servers`,
  channelServer: (channelId: string) => `channel:${channelId}:server`,
  /** Whether the user has two-factor sign-in (a confirmed TOTP secret or a passkey). */
  twoFactor: (userId: string) => `user:${userId}:two-factor`,
};

/** Everything cached about a server: for writes that change it wholesale (deletion). */
export const allServerKeys = (serverId: string): string[] => [guildKeys.server(serverId), guildKeys.roles(serverId), guildKeys.channels(serverId), guildKeys.members(serverId)];

/** A member joining, leaving or changing roles. */
export const membershipKeys = (serverId: string, userId: string): string[] => [
  guildKeys.member(serverId, userId),
  guildKeys.members(serverId),
  guildKeys.userServers(userId),
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids arrive from paths, bodies and tokens; one that is no uuid would be a SQL error, not "not found". */
export const isUuid = (id: string): boolean => UUID.test(id);

const iso = (value: Date | string): string => (value instanceof Date ? value.toISOString() : new Date(value).toISOString());

export const SERVER_COLUMNS = 'id, name, icon_url, owner_id, created_at, moderators_need_two_factor';
export interface ServerRow {
  id: string;
  name: string;
  icon_url: string | null;
  owner_id: string;
  created_at: Date;
  moderators_need_two_factor: boolean;
}
export const toServerRecord = (row: ServerRow): ServerRecord => ({
  id: row.id,
  name: row.name,
  iconUrl: row.icon_url,
  ownerId: row.owner_id,
  createdAt: iso(row.created_at),
  moderatorsNeedTwoFactor: row.moderators_need_two_factor,
});

export const ROLE_COLUMNS = 'id, server_id, name, colour, position, permissions, is_everyone';
export interface RoleRow {
  id: string;
  server_id: string;
  name: string;
  colour: number;
  position: number;
  permissions: number;
  is_everyone: boolean;
}
export const toRoleRecord = (row: RoleRow): RoleRecord => ({
  id: row.id,
  serverId: row.server_id,
  name: row.name,
  colour: row.colour,
  position: row.position,
  permissions: row.permissions,
  isEveryone: row.is_everyone,
});

export const CHANNEL_COLUMNS = 'id, server_id, kind, name, topic, position, parent_id';
export interface ChannelRow {
  id: string;
  server_id: string;
  kind: ChannelKind;
  name: string;
  topic: string | null;
  position: number;
  parent_id: string | null;
}
export const toChannelRecord = (row: ChannelRow, overwrites: PermissionOverwrite[]): ChannelRecord => ({
  id: row.id,
  serverId: row.server_id,
  kind: row.kind,
  name: row.name,
  topic: row.topic,
  position: row.position,
  parentId: row.parent_id,
  overwrites,
});

export const USER_COLUMNS = 'id, username, display_name, avatar_url';
export interface UserRow {
  id: string;
  username: string | null;
  display_name: string;
  avatar_url: string | null;
}
export const toUserRecord = (row: UserRow): UserRecord => ({ id: row.id, username: row.username, displayName: row.display_name, avatarUrl: row.avatar_url });

/** Channels in display order: categories and channels by position, ties by creation (id). */
export const byPosition = (a: { position: number; id: string }, b: { position: number; id: string }): number =>
  a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Channels whose server this process remembers (see `channelServerId`); beyond it the oldest go first. */
const CHANNEL_SERVERS_KEPT = 100_000;

export class GuildData {
  /**
   * channel id → server id, in this process: a channel never moves to another server, so this needs
   * no invalidation (a deleted channel is then missing from its server's channel list, the cached
   * value every permission check reads anyway), and a chat request saves a round trip before it can
   * ask for anything else. Unknown channels are not remembered.
   */
  private readonly channelServers = new Map<string, string>();

  constructor(
    private readonly db: Queryable,
    private readonly cache: CachedLoader,
  ) {}

  server(serverId: string): Promise<ServerRecord | null> {
    if (!isUuid(serverId)) return Promise.resolve(null);
    return this.cache.get('server', guildKeys.server(serverId), async () => {
      const row = await this.db.maybeOne<ServerRow>(`SELECT ${SERVER_COLUMNS} FROM servers WHERE id = $1`, [serverId]);
      return row && toServerRecord(row);
    });
  }

  /** All roles of the server, @everyone included, highest first. */
  roles(serverId: string): Promise<RoleRecord[]> {
    return this.cache.get('roles', guildKeys.roles(serverId), async () => {
      const { rows } = await this.db.query<RoleRow>(`SELECT ${ROLE_COLUMNS} FROM roles WHERE server_id = $1 ORDER BY position DESC, id`, [serverId]);
      return rows.map(toRoleRecord);
    });
  }

  /** All channels of the server with their overwrites, in display order. */
  channels(serverId: string): Promise<ChannelRecord[]> {
    return this.cache.get('channels', guildKeys.channels(serverId), async () => {
      const { rows } = await this.db.query<ChannelRow & { overwrites: PermissionOverwrite[] }>(
        `SELECT c.id, c.server_id, c.kind, c.name, c.topic, c.position, c.parent_id,
                coalesce(json_agg(json_build_object('targetType', o.target_type, 'targetId', o.target_id, 'allow', o.allow, 'deny', o.deny)
                                  ORDER BY o.target_type, o.target_id) FILTER (WHERE o.channel_id IS NOT NULL), '[]') AS overwrites
           FROM channels c LEFT JOIN permission_overwrites o ON o.channel_id = c.id
          WHERE c.server_id = $1
          GROUP BY c.id
          ORDER BY c.position, c.id`,
        [serverId],
      );
      return rows.map((row) => toChannelRecord(row, row.overwrites));
    });
  }

  /** The server a channel is in (channels never move between servers), or null. */
  async channelServerId(channelId: string): Promise<string | null> {
    if (!isUuid(channelId)) return null;
    const known = this.channelServers.get(channelId);
    if (known !== undefined) return known;
    const serverId = await this.cache.get('channel-server', guildKeys.channelServer(channelId), async () => {
      const row = await this.db.maybeOne<{ server_id: string }>('SELECT server_id FROM channels WHERE id = $1', [channelId]);
      return row?.server_id ?? null;
    });
    if (serverId !== null) {
      if (this.channelServers.size >= CHANNEL_SERVERS_KEPT) this.channelServers.delete(this.channelServers.keys().next().value!);
      this.channelServers.set(channelId, serverId);
    }
    return serverId;
  }

  /** The member, or null when the user is not a member (a banned user never is). */
  membership(serverId: string, userId: string): Promise<MembershipRecord | null> {
    if (!isUuid(serverId) || !isUuid(userId)) return Promise.resolve(null);
    return this.cache.get('member', guildKeys.member(serverId, userId), async () => {
      const row = await this.db.maybeOne<{ nickname: string | null; joined_at: Date; role_ids: string[] }>(
        `SELECT m.nickname, m.joined_at,
                array(SELECT r.role_id::text FROM member_roles r WHERE r.server_id = m.server_id AND r.user_id = m.user_id ORDER BY r.role_id) AS role_ids
           FROM members m
          WHERE m.server_id = $1 AND m.user_id = $2
            AND NOT EXISTS (SELECT 1 FROM bans b WHERE b.server_id = m.server_id AND b.user_id = m.user_id)`,
        [serverId, userId],
      );
      return row && { userId, roleIds: row.role_ids, nickname: row.nickname, joinedAt: iso(row.joined_at) };
    });
  }

  /** Every member of the server with their roles: the input of audiences. */
  members(serverId: string): Promise<MemberRoleRecord[]> {
    return this.cache.get('members', guildKeys.members(serverId), async () => {
      const { rows } = await this.db.query<{ user_id: string; role_ids: string[] }>(
        `SELECT m.user_id, coalesce(array_agg(r.role_id::text ORDER BY r.role_id) FILTER (WHERE r.role_id IS NOT NULL), '{}') AS role_ids
           FROM members m LEFT JOIN member_roles r ON r.server_id = m.server_id AND r.user_id = m.user_id
          WHERE m.server_id = $1
          GROUP BY m.user_id
          ORDER BY m.user_id`,
        [serverId],
      );
      return rows.map((row) => ({ userId: row.user_id, roleIds: row.role_ids }));
    });
  }

  /** The servers the user is a member of, in the order joined. */
  userServers(userId: string): Promise<string[]> {
    if (!isUuid(userId)) return Promise.resolve([]);
    return this.cache.get('user-servers', guildKeys.userServers(userId), async () => {
      const { rows } = await this.db.query<{ server_id: string }>('SELECT server_id FROM members WHERE user_id = $1 ORDER BY joined_at, server_id', [userId]);
      return rows.map((row) => row.server_id);
    });
  }

  user(userId: string): Promise<UserRecord | null> {
    if (!isUuid(userId)) return Promise.resolve(null);
    return this.cache.get('user', guildKeys.user(userId), async () => {
      const row = await this.db.maybeOne<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
      return row && toUserRecord(row);
    });
  }

  /** Whether the user has two-factor sign-in; for servers whose moderators must. */
  twoFactor(userId: string): Promise<boolean> {
    if (!isUuid(userId)) return Promise.resolve(false);
    return this.cache.get('two-factor', guildKeys.twoFactor(userId), async () => {
      const row = await this.db.one<{ enabled: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM user_passkeys WHERE user_id = $1) AS enabled`,
        [userId],
      );
      return row.enabled;
    });
  }

  invalidate(keys: readonly string[]): Promise<void> {
    return this.cache.invalidate(keys);
  }
}
