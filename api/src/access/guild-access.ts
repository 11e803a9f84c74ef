import { computePermissions, has, MODERATOR_PERMISSIONS, Permission, ProtocolError, type MemberRoles, type ServerRoles } from '@concord/protocol';
import type { AccessService, ChannelAccess, ServerAccess } from './access';
import type { ChannelRecord, GuildData, MembershipRecord, RoleRecord, ServerRecord } from './guild-data';

/** What a member's request in a server is decided with: the server, its roles, and the member. */
export interface ServerContext {
  server: ServerRecord;
  /** Highest first, @everyone included. */
  roles: RoleRecord[];
  /** The input of the protocol's permission and hierarchy helpers. */
  serverRoles: ServerRoles;
  /** The member acting, in the shape the helpers take. */
  actor: ServerRoles & MemberRoles;
  membership: MembershipRecord;
  /** The actor's server-level permissions. */
  permissions: number;
  /**
   * Moderator permissions the actor's roles give but that do not act, because the server requires
   * two-factor sign-in of moderators and the actor has none (left out of `permissions`).
   */
  withheld: number;
}

export interface ChannelContext extends ServerContext {
  channel: ChannelRecord;
  /** The actor's permissions in the channel. */
  channelPermissions: number;
}

const notFound = (what: string) => new ProtocolError('NOT_FOUND', `unknown ${what}`);

export const serverRolesOf = (server: ServerRecord, roles: readonly RoleRecord[]): ServerRoles => ({
  ownerId: server.ownerId,
  everyoneRoleId: roles.find((role) => role.isEveryone)?.id ?? '',
  roles,
});

/**
 * The AccessService on PostgreSQL through the cache: every answer is computePermissions over the
 * cached server, roles, member roles and channel overwrites. Unknown ids, servers the user is not a
 * member of and malformed ids are all the same NOT_FOUND.
 */
export class GuildAccess implements AccessService {
  constructor(readonly data: GuildData) {}

  async server(userId: string, serverId: string): Promise<ServerAccess> {
    const context = await this.serverContext(userId, serverId);
    return { serverId, ownerId: context.server.ownerId, permissions: context.permissions };
  }

  async channel(userId: string, channelId: string): Promise<ChannelAccess> {
    const context = await this.channelContext(userId, channelId);
    return { serverId: context.server.id, channelId, kind: context.channel.kind, permissions: context.channelPermissions, withheld: context.withheld };
  }

  async channelAudience(channelId: string): Promise<string[]> {
    const serverId = await this.data.channelServerId(channelId);
    if (!serverId) return [];
    const [server, roles, channels, members] = await Promise.all([
      this.data.server(serverId),
      this.data.roles(serverId),
      this.data.channels(serverId),
      this.data.members(serverId),
    ]);
    const channel = channels.find((candidate) => candidate.id === channelId);
    if (!server || !channel) return [];
    return audienceOf(serverRolesOf(server, roles), members, channel);
  }

  async serverAudience(serverId: string): Promise<string[]> {
    if (!(await this.data.server(serverId))) return [];
    return (await this.data.members(serverId)).map((member) => member.userId);
  }

  /** The member's context in the server; NOT_FOUND for an unknown server or a non-member. */
  async serverContext(userId: string, serverId: string): Promise<ServerContext> {
    // Together, not in turn: each is a cache round trip, and the roles are needed whenever the others exist.
    const [server, membership, roles] = await Promise.all([this.data.server(serverId), this.data.membership(serverId, userId), this.data.roles(serverId)]);
    if (!server || !membership) throw notFound('server');
    const serverRoles = serverRolesOf(server, roles);
    const actor = { ...serverRoles, userId, memberRoleIds: membership.roleIds };
    const withheld = await this.withheldOf(server, userId);
    const permissions = computePermissions(actor);
    return { server, roles, serverRoles, actor, membership, permissions: permissions & ~withheld, withheld: permissions & withheld };
  }

  /** MODERATOR_PERMISSIONS when the server requires two-factor sign-in of moderators and the user has none; else 0. */
  private async withheldOf(server: ServerRecord, userId: string): Promise<number> {
    return server.moderatorsNeedTwoFactor && !(await this.data.twoFactor(userId)) ? MODERATOR_PERMISSIONS : 0;
  }

  /** The member's context in the channel's server, and the channel; NOT_FOUND as for the server. */
  async channelContext(userId: string, channelId: string): Promise<ChannelContext> {
    const serverId = await this.data.channelServerId(channelId);
    if (!serverId) throw notFound('channel');
    const [context, channels] = await Promise.all([
      this.serverContext(userId, serverId).catch((error: unknown) => {
        throw error instanceof ProtocolError && error.code === 'NOT_FOUND' ? notFound('channel') : error;
      }),
      this.data.channels(serverId),
    ]);
    const channel = channels.find((candidate) => candidate.id === channelId);
    if (!channel) throw notFound('channel');
    const channelPermissions = computePermissions({ ...context.actor, overwrites: channel.overwrites });
    const withheld = await this.withheldOf(context.server, userId);
    return { ...context, channel, channelPermissions: channelPermissions & ~withheld, withheld: (channelPermissions | context.withheld) & withheld };
  }
}

/**
 * The members who may see `channel` (VIEW_CHANNEL), given the server's roles and members.
 *
 * Computed once per distinct set of roles rather than once per member (this runs for every chat
 * event; a per-member computation cost ~4 ms per event in a 1000-member server): apart from its
 * roles, only being the owner or having a member overwrite in the channel sets a member apart, and
 * those few are computed on their own.
 */
export function audienceOf(serverRoles: ServerRoles, members: readonly { userId: string; roleIds: readonly string[] }[], channel: Pick<ChannelRecord, 'overwrites'>): string[] {
  const overwrites = channel.overwrites;
  const withOwnOverwrite = new Set(overwrites.filter((overwrite) => overwrite.targetType === 'member').map((overwrite) => overwrite.targetId));
  const seesByRoles = new Map<string, boolean>();
  const sees = (member: { userId: string; roleIds: readonly string[] }) =>
    has(computePermissions({ ...serverRoles, userId: member.userId, memberRoleIds: member.roleIds, overwrites }), Permission.VIEW_CHANNEL);
  const audience: string[] = [];
  for (const member of members) {
    let visible: boolean;
    if (member.userId === serverRoles.ownerId || withOwnOverwrite.has(member.userId)) {
      visible = sees(member);
    } else {
      const key = member.roleIds.length <= 1 ? (member.roleIds[0] ?? '') : [...member.roleIds].sort().join(',');
      let known = seesByRoles.get(key);
      if (known === undefined) seesByRoles.set(key, (known = sees(member)));
      visible = known;
    }
    if (visible) audience.push(member.userId);
  }
  return audience;
}
