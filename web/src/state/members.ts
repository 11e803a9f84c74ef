import type { Member, UserProfile } from '@concord/protocol';
import { mapValues, patchGuild } from './app-state';
import type { AppState } from './app-state';

/** What member records tell about their users: names for everyone, presence for others (ours is our own). */
export function withMemberFacts(state: AppState, members: readonly Member[]): AppState {
  const users = { ...state.users };
  const reported = members.filter((member) => member.presence && member.user.id !== state.me.id);
  const presence = reported.length > 0 ? { ...state.presence } : state.presence;
  for (const member of members) users[member.user.id] = member.user;
  for (const member of reported) presence[member.user.id] = member.presence!;
  return { ...state, users, presence };
}

/** A member joined or changed (nickname, roles, presence as the API saw it). */
export function memberUpserted(state: AppState, member: Member): AppState {
  const guild = state.guilds[member.serverId];
  if (!guild) return state;
  const next = { ...state, guilds: { ...state.guilds, [member.serverId]: { ...guild, members: { ...guild.members, [member.user.id]: member } } } };
  return withMemberFacts(next, [member]);
}

/** A member left, was kicked or banned. */
export function memberRemoved(state: AppState, serverId: string, userId: string): AppState {
  return patchGuild(state, serverId, (g) => {
    const members = { ...g.members };
    delete members[userId];
    return { ...g, members };
  });
}

/** A user changed their profile: their name and avatar change everywhere they appear. */
export function userUpdated(state: AppState, user: UserProfile): AppState {
  return {
    ...state,
    users: { ...state.users, [user.id]: user },
    me: user.id === state.me.id ? { ...state.me, displayName: user.displayName } : state.me,
    guilds: mapValues(state.guilds, (g) => (g.members[user.id] ? { ...g, members: { ...g.members, [user.id]: { ...g.members[user.id]!, user } } } : g)),
  };
}

/** The name to show for a user: their nickname on the server, else their display name. */
export function displayName(state: AppState, userId: string | null, serverId?: string): string {
  if (!userId) return 'Deleted user';
  const member = serverId ? state.guilds[serverId]?.members[userId] : undefined;
  return member?.nickname ?? member?.user.displayName ?? state.users[userId]?.displayName ?? 'Unknown user';
}
