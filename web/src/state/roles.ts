import type { Role } from '@concord/protocol';
import { mapValues, patchGuild } from './app-state';
import type { AppState } from './app-state';

/** A role created or changed; roles stay in rank order, highest first. */
export function roleUpserted(state: AppState, role: Role): AppState {
  return patchGuild(state, role.serverId, (g) => {
    const roles = g.roles.some((r) => r.id === role.id) ? g.roles.map((r) => (r.id === role.id ? role : r)) : [...g.roles, role];
    return { ...g, roles: roles.sort((a, b) => b.position - a.position) };
  });
}

/** A role deleted: gone from the server and from every member who had it. */
export function roleRemoved(state: AppState, serverId: string, roleId: string): AppState {
  return patchGuild(state, serverId, (g) => ({
    ...g,
    roles: g.roles.filter((r) => r.id !== roleId),
    members: mapValues(g.members, (m) => ({ ...m, roleIds: m.roleIds.filter((id) => id !== roleId) })),
  }));
}

/** A role given to or taken from a member. */
export function memberRoleSet(state: AppState, serverId: string, userId: string, roleId: string, on: boolean): AppState {
  return patchGuild(state, serverId, (g) => {
    const member = g.members[userId];
    if (!member) return g;
    const roleIds = on ? [...new Set([...member.roleIds, roleId])] : member.roleIds.filter((id) => id !== roleId);
    return { ...g, members: { ...g.members, [userId]: { ...member, roleIds } } };
  });
}
