/** Snapshots and records for the state slices' unit tests (imported by tests only). */
import type { ChannelView, Member, Message, Role, Server } from '@concord/protocol';
import { initialState } from './app-state';
import type { AppState } from './app-state';
import { guildLoaded } from './servers';

export const ME = 'me';
export const SERVER = 's1';
export const EVERYONE = 'everyone';

export function server(change: Partial<Server> = {}): Server {
  return { id: SERVER, name: 'Guild', iconUrl: null, ownerId: 'owner', createdAt: '2030-01-01T00:00:00.000Z', ...change };
}

export function role(id: string, permissions: number, position: number, change: Partial<Role> = {}): Role {
  return { id, serverId: SERVER, name: id, colour: 0, position, permissions, isEveryone: id === EVERYONE, ...change };
}

export function member(userId: string, change: Partial<Member> = {}): Member {
  return {
    serverId: SERVER,
    user: { id: userId, username: userId, displayName: `${userId} name`, avatarUrl: null },
    nickname: null,
    roleIds: [],
    joinedAt: '2030-01-01T00:00:00.000Z',
    ...change,
  };
}

export function channel(id: string, position: number, change: Partial<ChannelView> = {}): ChannelView {
  return { id, serverId: SERVER, kind: 'text', name: id, topic: null, position, parentId: null, overwrites: [], permissions: 0, ...change };
}

let clock = 0;
export function message(id: string, change: Partial<Message> = {}): Message {
  return {
    id,
    channelId: 'c1',
    serverId: SERVER,
    authorId: 'them',
    content: `text ${id}`,
    createdAt: new Date(1_700_000_000_000 + ++clock).toISOString(),
    editedAt: null,
    replyToId: null,
    mentions: [],
    mentionEveryone: false,
    nonce: null,
    reactions: [],
    ...change,
  };
}

export function emptyState(): AppState {
  return initialState({ id: ME, username: ME, displayName: 'Me' }, 'connected', { lastRead: {}, unread: {} });
}

/** A snapshot with server s1 loaded: @everyone, the given roles, channels and members (we are one). */
export function loadedState(parts: { roles?: Role[]; channels?: ChannelView[]; members?: Member[]; apiPermissions?: number } = {}): AppState {
  return guildLoaded(emptyState(), {
    view: { ...server(), permissions: parts.apiPermissions ?? 0, memberCount: 0, moderatorsNeedTwoFactor: false },
    channels: parts.channels ?? [channel('c1', 0)],
    roles: [role(EVERYONE, 0, 0), ...(parts.roles ?? [])],
    members: parts.members ?? [member(ME)],
  });
}

export const guildOf = (state: AppState) => state.guilds[SERVER]!;
