import type { ChannelView, Member, Role, Server, ServerView } from '@concord/protocol';
import { emptyGuild, patchGuild } from './app-state';
import type { AppState, Guild } from './app-state';
import { sortChannels } from './channels';
import { withMemberFacts } from './members';

/** The server list as the API sent it: new ones added, gone ones dropped, the rest kept. */
export function serversListed(state: AppState, servers: readonly Server[]): AppState {
  const guilds = { ...state.guilds };
  for (const server of servers) guilds[server.id] = guilds[server.id] ? { ...guilds[server.id]!, server } : emptyGuild(server);
  for (const id of Object.keys(guilds)) if (!servers.some((server) => server.id === id)) delete guilds[id];
  return { ...state, guilds, serverIds: servers.map((server) => server.id) };
}

/** A server we created or joined: last on the rail. */
export function serverAdded(state: AppState, server: Server): AppState {
  return {
    ...state,
    guilds: { ...state.guilds, [server.id]: state.guilds[server.id] ?? emptyGuild(server) },
    serverIds: [...(state.serverIds ?? []).filter((id) => id !== server.id), server.id],
  };
}

export function serverUpdated(state: AppState, server: Server): AppState {
  return patchGuild(state, server.id, (guild) => ({ ...guild, server }));
}

/** A server deleted, left, or one we were removed from. */
export function serverDropped(state: AppState, serverId: string): AppState {
  const guilds = { ...state.guilds };
  delete guilds[serverId];
  return { ...state, guilds, serverIds: (state.serverIds ?? []).filter((id) => id !== serverId) };
}

export interface GuildContents {
  view: ServerView;
  channels: ChannelView[];
  roles: Role[];
  members: Member[];
}

/** A server opened: its channels, roles and members as fetched, its members' names and presence known. */
export function guildLoaded(state: AppState, { view, channels, roles, members }: GuildContents): AppState {
  const { permissions, memberCount: _count, ...server } = view;
  const guild: Guild = {
    server,
    apiPermissions: permissions,
    channels: sortChannels(channels),
    roles,
    members: Object.fromEntries(members.map((member) => [member.user.id, member])),
    loaded: true,
    error: null,
  };
  return withMemberFacts({ ...state, guilds: { ...state.guilds, [server.id]: guild } }, members);
}

export function guildFailed(state: AppState, serverId: string, error: string): AppState {
  return patchGuild(state, serverId, (guild) => ({ ...guild, error }));
}
