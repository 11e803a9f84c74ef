import { ALL_PERMISSIONS, computePermissions } from '@concord/protocol';
import type { Channel, Member, Role, Server } from '@concord/protocol';
import type { AppState } from './app-state';

export interface GuildFacts {
  server: Server;
  roles: readonly Role[];
  /** Our own membership; null until the members are loaded. */
  me: Pick<Member, 'roleIds'> | null;
}

/**
 * Our permission bits on a server (no channel) or in a channel, from what we know of roles and
 * overwrites: recomputed on every role, overwrite or membership change we hear of, so controls
 * appear and disappear live. `fallback` (the bits the API sent with the server or channel) is
 * used until the roles and our membership are loaded.
 */
export function permissionsOf(myId: string, facts: GuildFacts, channel: Pick<Channel, 'overwrites'> | null, fallback: number): number {
  if (facts.server.ownerId === myId) return ALL_PERMISSIONS;
  const everyone = facts.roles.find((role) => role.isEveryone);
  if (!everyone || !facts.me) return fallback;
  return computePermissions({
    ownerId: facts.server.ownerId,
    everyoneRoleId: everyone.id,
    roles: facts.roles,
    userId: myId,
    memberRoleIds: facts.me.roleIds,
    ...(channel && { overwrites: channel.overwrites }),
  });
}

/** Our bits on a server, or in one of its channels, from the snapshot. */
export function myPermissions(state: AppState, serverId: string, channelId?: string): number {
  const guild = state.guilds[serverId];
  if (!guild) return 0;
  const facts = { server: guild.server, roles: guild.roles, me: guild.members[state.me.id] ?? null };
  if (!channelId) return permissionsOf(state.me.id, facts, null, guild.apiPermissions);
  const channel = guild.channels.find((c) => c.id === channelId);
  return channel ? permissionsOf(state.me.id, facts, channel, channel.permissions) : 0;
}
