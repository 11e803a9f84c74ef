import type { ChannelView, Member, PresenceStatus, PublicUser, Role, Server, UserProfile } from '@concord/protocol';
import type { GatewayState } from '../realtime/gateway';
import type { ChannelChat } from './chat';

/** Everything we know of one server of ours. */
export interface Guild {
  server: Server;
  /** Our server-level bits as the API sent them (used until roles and members are known). */
  apiPermissions: number;
  channels: ChannelView[];
  roles: Role[];
  members: Record<string, Member>;
  /** Channels, roles and members have been fetched. */
  loaded: boolean;
  error: string | null;
}

/**
 * The signed-in app's data as one immutable snapshot. The slice modules beside this one
 * (servers, channels, roles, members, presence, typing, messages, unread) are its transitions:
 * pure functions from one snapshot to the next, which the store applies.
 */
export interface AppState {
  me: PublicUser;
  gateway: GatewayState;
  /** Our servers, in the order of the rail. Null until the first fetch answers. */
  serverIds: string[] | null;
  guilds: Record<string, Guild>;
  presence: Record<string, PresenceStatus>;
  /** Everyone we know of, from member lists (author names, mentions). */
  users: Record<string, UserProfile>;
  chats: Record<string, ChannelChat>;
  /** Per channel: user id → when their "is typing" lapses (ms since epoch). */
  typing: Record<string, Record<string, number>>;
  /** Per channel: the newest message we have seen (persisted). */
  lastRead: Record<string, string>;
  /** Channels with messages we have not seen, and how many of them mention us. */
  unread: Record<string, { mentions: number }>;
  /** The channel on screen (it never turns unread while the window has focus). */
  activeChannelId: string | null;
}

export type ReadMarkers = Pick<AppState, 'lastRead' | 'unread'>;

export function initialState(me: PublicUser, gateway: GatewayState, readMarkers: ReadMarkers): AppState {
  return {
    me,
    gateway,
    serverIds: null,
    guilds: {},
    presence: { [me.id]: 'online' },
    users: { [me.id]: { id: me.id, username: me.username, displayName: me.displayName, avatarUrl: null } },
    chats: {},
    typing: {},
    ...readMarkers,
    activeChannelId: null,
  };
}

export function emptyGuild(server: Server): Guild {
  return { server, apiPermissions: 0, channels: [], roles: [], members: {}, loaded: false, error: null };
}

/** Changes one server's entry; a server we do not have stays absent. */
export function patchGuild(state: AppState, serverId: string, change: (guild: Guild) => Guild): AppState {
  const guild = state.guilds[serverId];
  const next = guild && change(guild);
  return next && next !== guild ? { ...state, guilds: { ...state.guilds, [serverId]: next } } : state;
}

export function mapValues<T>(record: Record<string, T>, change: (value: T) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, change(value)]));
}
