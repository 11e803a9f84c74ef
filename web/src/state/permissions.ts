import { ALL_PERMISSIONS, computePermissions } from '@concord/protocol';
import type { Channel, Member, Role, Server } from '@concord/protocol';

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
