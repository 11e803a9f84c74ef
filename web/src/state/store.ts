import { DEFAULT_MESSAGE_PAGE, ProtocolError, has, Permission } from '@concord/protocol';
import type {
  Channel,
  ChannelView,
  Member,
  Message,
  PresenceStatus,
  PublicUser,
  RealtimeEvent,
  RealtimeEventName,
  Role,
  Server,
  UserProfile,
} from '@concord/protocol';
import type { ApiClient } from '../api/client';
import { isTransient } from '../api/http';
import { TypedEmitter } from '../call/emitter';
import { describeError } from '../describe-error';
import type { Gateway, GatewayState } from '../realtime/gateway';
import {
  EMPTY_CHAT,
  mergeMessages,
  newNonce,
  newestSent,
  oldestSent,
  pendingId,
  removeMessage,
  updateMessage,
  withReaction,
} from './chat';
import type { ChannelChat, ChatMessage } from './chat';
import { permissionsOf } from './permissions';

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

export type StoreEvents = { changed: []; unauthenticated: [] };

const TYPING_MS = 9_000;
/** Typing notifications we send: at most one per channel this often. */
const TYPING_EVERY_MS = 6_000;
const SEND_ATTEMPTS = 4;
const LAST_READ_KEY = 'concord.lastRead';
const UNREAD_KEY = 'concord.unread';

function loadJson<T>(key: string, fallback: T): T {
  try {
    return (JSON.parse(localStorage.getItem(key) ?? 'null') as T | null) ?? fallback;
  } catch {
    return fallback;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sortChannels = (channels: ChannelView[]) => [...channels].sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));

/**
 * The signed-in app's data: servers, channels, roles, members, presence, chat. REST fetches fill
 * it, real-time events keep it current, and a reconnect of the gateway fetches what may have been
 * missed. Immutable snapshots for React (useSyncExternalStore); actions throw ProtocolErrors with
 * plain words for the UI to show where they happened.
 */
export class AppStore extends TypedEmitter<StoreEvents> {
  private current: AppState;
  private readonly typingSent = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly loadingGuilds = new Map<string, Promise<void>>();
  private readonly loadingChats = new Map<string, Promise<void>>();
  private typingTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    readonly api: ApiClient,
    readonly gateway: Gateway,
    me: PublicUser,
  ) {
    super();
    this.current = {
      me,
      gateway: gateway.state,
      serverIds: null,
      guilds: {},
      presence: { [me.id]: 'online' },
      users: { [me.id]: { id: me.id, username: me.username, displayName: me.displayName, avatarUrl: null } },
      chats: {},
      typing: {},
      lastRead: loadJson<Record<string, string>>(LAST_READ_KEY, {}),
      unread: loadJson<Record<string, { mentions: number }>>(UNREAD_KEY, {}),
      activeChannelId: null,
    };
    this.listen();
  }

  get state(): AppState {
    return this.current;
  }

  subscribe = (listener: () => void): (() => void) => this.on('changed', listener);

  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    clearInterval(this.typingTimer);
    this.gateway.close();
  }

  // ---------------------------------------------------------------- reads

  guild(serverId: string): Guild | undefined {
    return this.current.guilds[serverId];
  }

  channel(channelId: string): ChannelView | undefined {
    for (const guild of Object.values(this.current.guilds)) {
      const channel = guild.channels.find((c) => c.id === channelId);
      if (channel) return channel;
    }
    return undefined;
  }

  /** Our bits on the server, or in one of its channels. */
  permissions(serverId: string, channelId?: string): number {
    const guild = this.current.guilds[serverId];
    if (!guild) return 0;
    const facts = { server: guild.server, roles: guild.roles, me: guild.members[this.current.me.id] ?? null };
    if (!channelId) return permissionsOf(this.current.me.id, facts, null, guild.apiPermissions);
    const channel = guild.channels.find((c) => c.id === channelId);
    return channel ? permissionsOf(this.current.me.id, facts, channel, channel.permissions) : 0;
  }

  can(serverId: string, bits: number, channelId?: string): boolean {
    return has(this.permissions(serverId, channelId), bits);
  }

  displayName(userId: string | null, serverId?: string): string {
    if (!userId) return 'Deleted user';
    const member = serverId ? this.current.guilds[serverId]?.members[userId] : undefined;
    return member?.nickname ?? member?.user.displayName ?? this.current.users[userId]?.displayName ?? 'Unknown user';
  }

  // ---------------------------------------------------------------- servers

  /** Our servers; each one's channels, roles and members load when it is opened. */
  async loadServers(): Promise<void> {
    const servers = await this.api.myServers();
    this.update((s) => {
      const guilds = { ...s.guilds };
      for (const server of servers) guilds[server.id] = guilds[server.id] ? { ...guilds[server.id]!, server } : emptyGuild(server);
      for (const id of Object.keys(guilds)) if (!servers.some((server) => server.id === id)) delete guilds[id];
      return { ...s, guilds, serverIds: servers.map((server) => server.id) };
    });
  }

  loadGuild(serverId: string, force = false): Promise<void> {
    const guild = this.current.guilds[serverId];
    if (guild?.loaded && !force) return Promise.resolve();
    let loading = this.loadingGuilds.get(serverId);
    if (!loading) {
      loading = this.fetchGuild(serverId).finally(() => this.loadingGuilds.delete(serverId));
      this.loadingGuilds.set(serverId, loading);
    }
    return loading;
  }

  private async fetchGuild(serverId: string): Promise<void> {
    try {
      const [view, channels, roles, members] = await Promise.all([
        this.api.server(serverId),
        this.api.channels(serverId),
        this.api.roles(serverId),
        this.api.members(serverId),
      ]);
      this.update((s) => {
        const users = { ...s.users };
        const presence = { ...s.presence };
        for (const member of members) {
          users[member.user.id] = member.user;
          if (member.presence && member.user.id !== s.me.id) presence[member.user.id] = member.presence;
        }
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
        return { ...s, users, presence, guilds: { ...s.guilds, [serverId]: guild } };
      });
    } catch (error) {
      this.patchGuild(serverId, (guild) => ({ ...guild, error: describeError(error) }));
      throw error;
    }
  }

  async createServer(name: string): Promise<Server> {
    const server = await this.api.createServer({ name });
    this.addServer(server);
    return server;
  }

  async joinInvite(code: string): Promise<Server> {
    const server = await this.api.acceptInvite(code);
    this.addServer(server);
    return server;
  }

  private addServer(server: Server): void {
    this.update((s) => ({
      ...s,
      guilds: { ...s.guilds, [server.id]: s.guilds[server.id] ?? emptyGuild(server) },
      serverIds: [...(s.serverIds ?? []).filter((id) => id !== server.id), server.id],
    }));
  }

  async updateServer(serverId: string, name: string): Promise<void> {
    const server = await this.api.updateServer(serverId, { name });
    this.patchGuild(serverId, (guild) => ({ ...guild, server }));
  }

  async deleteServer(serverId: string): Promise<void> {
    await this.api.deleteServer(serverId);
    this.dropServer(serverId);
  }

  async leaveServer(serverId: string): Promise<void> {
    await this.api.leaveServer(serverId);
    this.dropServer(serverId);
  }

  // ---------------------------------------------------------------- channels

  async createChannel(serverId: string, name: string, kind: 'text' | 'voice' | 'category', parentId: string | null): Promise<Channel> {
    const channel = await this.api.createChannel(serverId, { name, kind, ...(parentId && { parentId }) });
    this.upsertChannel(channel);
    return channel;
  }

  async updateChannel(channelId: string, change: { name?: string; topic?: string | null }): Promise<void> {
    this.upsertChannel(await this.api.updateChannel(channelId, change));
  }

  async deleteChannel(channelId: string): Promise<void> {
    const channel = this.channel(channelId);
    await this.api.deleteChannel(channelId);
    if (channel) this.removeChannel(channel.serverId, channelId);
  }

  /** Moves a channel one place up or down among its siblings (same category, same kind group). */
  async moveChannel(channelId: string, direction: -1 | 1): Promise<void> {
    const channel = this.channel(channelId);
    if (!channel) return;
    const guild = this.current.guilds[channel.serverId]!;
    const siblings = guild.channels.filter((c) => c.parentId === channel.parentId && (c.kind === 'category') === (channel.kind === 'category'));
    const index = siblings.findIndex((c) => c.id === channelId);
    const other = siblings[index + direction];
    if (!other) return;
    const order = [...siblings];
    order[index] = other;
    order[index + direction] = channel;
    // Positions are unique within the server: reuse the siblings' own, in the new order.
    const positions = siblings.map((c) => c.position).sort((a, b) => a - b);
    const moves = order.map((c, i) => ({ id: c.id, position: positions[i]! })).filter((move, i) => order[i]!.position !== move.position);
    const before = guild.channels;
    this.patchGuild(channel.serverId, (g) => ({
      ...g,
      channels: sortChannels(g.channels.map((c) => ({ ...c, position: moves.find((m) => m.id === c.id)?.position ?? c.position }))),
    }));
    try {
      await this.api.reorderChannels(channel.serverId, moves);
    } catch (error) {
      this.patchGuild(channel.serverId, (g) => ({ ...g, channels: before }));
      throw error;
    }
  }

  async setOverwrite(channelId: string, targetType: 'role' | 'member', targetId: string, allow: number, deny: number): Promise<void> {
    if (allow === 0 && deny === 0) await this.api.deleteOverwrite(channelId, targetType, targetId);
    else await this.api.setOverwrite(channelId, targetType, targetId, { allow, deny });
    const channel = this.channel(channelId);
    if (!channel) return;
    const others = channel.overwrites.filter((o) => !(o.targetType === targetType && o.targetId === targetId));
    this.upsertChannel({ ...channel, overwrites: allow || deny ? [...others, { targetType, targetId, allow, deny }] : others });
  }

  // ---------------------------------------------------------------- roles and members

  async createRole(serverId: string, name: string, permissions: number, colour?: number): Promise<Role> {
    const role = await this.api.createRole(serverId, { name, permissions, ...(colour !== undefined && { colour }) });
    this.upsertRole(role);
    return role;
  }

  async updateRole(serverId: string, roleId: string, change: { name?: string; colour?: number; permissions?: number }): Promise<void> {
    this.upsertRole(await this.api.updateRole(serverId, roleId, change));
  }

  async deleteRole(serverId: string, roleId: string): Promise<void> {
    await this.api.deleteRole(serverId, roleId);
    this.patchGuild(serverId, (g) => ({
      ...g,
      roles: g.roles.filter((r) => r.id !== roleId),
      members: mapValues(g.members, (m) => ({ ...m, roleIds: m.roleIds.filter((id) => id !== roleId) })),
    }));
  }

  async setMemberRole(serverId: string, userId: string, roleId: string, on: boolean): Promise<void> {
    if (on) await this.api.addMemberRole(serverId, userId, roleId);
    else await this.api.removeMemberRole(serverId, userId, roleId);
    this.patchGuild(serverId, (g) => {
      const member = g.members[userId];
      if (!member) return g;
      const roleIds = on ? [...new Set([...member.roleIds, roleId])] : member.roleIds.filter((id) => id !== roleId);
      return { ...g, members: { ...g.members, [userId]: { ...member, roleIds } } };
    });
  }

  async kick(serverId: string, userId: string): Promise<void> {
    await this.api.kick(serverId, userId);
    this.removeMember(serverId, userId);
  }

  async ban(serverId: string, userId: string, reason?: string): Promise<void> {
    await this.api.ban(serverId, userId, reason);
    this.removeMember(serverId, userId);
  }

  // ---------------------------------------------------------------- chat

  chat(channelId: string): ChannelChat {
    return this.current.chats[channelId] ?? EMPTY_CHAT;
  }

  /** Shows a channel: loads its latest messages (once) and marks it read while it is on screen. */
  openChannel(channelId: string | null): void {
    this.update((s) => ({ ...s, activeChannelId: channelId }));
    if (!channelId) return;
    this.markRead(channelId);
    void this.loadLatest(channelId).catch(() => undefined);
  }

  loadLatest(channelId: string, force = false): Promise<void> {
    if (this.chat(channelId).loaded && !force) return Promise.resolve();
    let loading = this.loadingChats.get(channelId);
    if (!loading) {
      loading = this.fetchLatest(channelId).finally(() => this.loadingChats.delete(channelId));
      this.loadingChats.set(channelId, loading);
    }
    return loading;
  }

  private async fetchLatest(channelId: string): Promise<void> {
    try {
      const { messages } = await this.api.messages(channelId, { limit: DEFAULT_MESSAGE_PAGE });
      this.patchChat(channelId, (chat) => {
        const newest = newestSent(chat.messages);
        // Anything loaded that is older than this page and not adjacent to it would leave a gap: drop it.
        const oldestOfPage = messages.reduce<string | null>((min, m) => (min === null || m.id < min ? m.id : min), null);
        const contiguous = !newest || !oldestOfPage || newest.id >= oldestOfPage || messages.length < DEFAULT_MESSAGE_PAGE;
        const base = contiguous ? chat.messages : chat.messages.filter((m) => m.pending);
        return {
          ...chat,
          messages: mergeMessages(base, messages, this.current.me.id),
          loaded: true,
          hasMore: contiguous && chat.loaded ? chat.hasMore : messages.length >= DEFAULT_MESSAGE_PAGE,
          error: null,
        };
      });
      if (this.current.activeChannelId === channelId) this.markRead(channelId);
    } catch (error) {
      this.patchChat(channelId, (chat) => ({ ...chat, error: describeError(error) }));
      throw error;
    }
  }

  /** The page before the oldest loaded message (scrolling up). */
  async loadOlder(channelId: string): Promise<void> {
    const chat = this.chat(channelId);
    if (!chat.loaded || !chat.hasMore || chat.loadingOlder) return;
    const oldest = oldestSent(chat.messages);
    if (!oldest) return this.patchChat(channelId, (c) => ({ ...c, hasMore: false }));
    this.patchChat(channelId, (c) => ({ ...c, loadingOlder: true }));
    try {
      const { messages } = await this.api.messages(channelId, { before: oldest.id, limit: DEFAULT_MESSAGE_PAGE });
      this.patchChat(channelId, (c) => ({
        ...c,
        messages: mergeMessages(c.messages, messages, this.current.me.id),
        hasMore: messages.length >= DEFAULT_MESSAGE_PAGE,
        loadingOlder: false,
        error: null,
      }));
    } catch (error) {
      this.patchChat(channelId, (c) => ({ ...c, loadingOlder: false, error: describeError(error) }));
    }
  }

  /**
   * Sends at once as a pending message and confirms it when the server answers. Transient failures
   * are retried with the same nonce, so a send that did reach the server is never posted twice;
   * after the last try the message stays, marked failed, for retrySend().
   */
  send(channelId: string, content: string, replyToId: string | null): void {
    const channel = this.channel(channelId);
    if (!channel) return;
    const nonce = newNonce();
    const me = this.current.me.id;
    const pending: ChatMessage = {
      id: pendingId(nonce),
      channelId,
      serverId: channel.serverId,
      authorId: me,
      content,
      createdAt: new Date().toISOString(),
      editedAt: null,
      replyToId,
      mentions: [],
      mentionEveryone: false,
      nonce,
      reactions: [],
      pending: 'sending',
    };
    this.patchChat(channelId, (chat) => ({ ...chat, messages: [...chat.messages, pending] }));
    this.typingSent.delete(channelId);
    void this.deliver(pending);
  }

  retrySend(channelId: string, nonce: string): void {
    const message = this.chat(channelId).messages.find((m) => m.nonce === nonce && m.pending === 'failed');
    if (!message) return;
    this.setPending(channelId, nonce, { pending: 'sending', error: undefined });
    void this.deliver(message);
  }

  discardPending(channelId: string, nonce: string): void {
    this.patchChat(channelId, (chat) => ({ ...chat, messages: chat.messages.filter((m) => !(m.pending && m.nonce === nonce)) }));
  }

  private async deliver(message: ChatMessage): Promise<void> {
    const { channelId, content, replyToId, nonce } = message;
    for (let attempt = 1; ; attempt++) {
      try {
        const sent = await this.api.sendMessage(channelId, { content, nonce: nonce!, ...(replyToId && { replyToId }) });
        this.patchChat(channelId, (chat) => ({ ...chat, messages: mergeMessages(chat.messages, [sent], this.current.me.id) }));
        this.markRead(channelId);
        return;
      } catch (error) {
        if (this.closed) return;
        if (!isTransient(error) || attempt >= SEND_ATTEMPTS) {
          this.setPending(channelId, nonce!, { pending: 'failed', error: describeError(error) });
          return;
        }
        await sleep(400 * 2 ** (attempt - 1));
      }
    }
  }

  private setPending(channelId: string, nonce: string, change: Partial<ChatMessage>): void {
    this.patchChat(channelId, (chat) => ({
      ...chat,
      messages: chat.messages.map((m) => (m.pending && m.nonce === nonce ? { ...m, ...change } : m)),
    }));
  }

  async editMessage(channelId: string, messageId: string, content: string): Promise<void> {
    const message = await this.api.editMessage(channelId, messageId, { content });
    this.patchChat(channelId, (chat) => ({ ...chat, messages: mergeMessages(chat.messages, [message], this.current.me.id) }));
  }

  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.api.deleteMessage(channelId, messageId);
    this.patchChat(channelId, (chat) => ({ ...chat, messages: removeMessage(chat.messages, messageId) }));
  }

  /** Adds or removes our reaction, shown at once and undone if the server refuses. */
  async toggleReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    const message = this.chat(channelId).messages.find((m) => m.id === messageId);
    if (!message) return;
    const mine = message.reactions.some((r) => r.emoji === emoji && r.me);
    const apply = (delta: 1 | -1) => this.patchChat(channelId, (chat) => ({ ...chat, messages: withReaction(chat.messages, messageId, emoji, delta, true) }));
    apply(mine ? -1 : 1);
    try {
      if (mine) await this.api.unreact(channelId, messageId, emoji);
      else await this.api.react(channelId, messageId, emoji);
    } catch (error) {
      apply(mine ? 1 : -1);
      throw error;
    }
  }

  /** Tells the channel we are typing (throttled; failures do not matter). */
  typing(channelId: string): void {
    const now = Date.now();
    if ((this.typingSent.get(channelId) ?? 0) + TYPING_EVERY_MS > now) return;
    this.typingSent.set(channelId, now);
    void this.api.typing(channelId).catch(() => undefined);
  }

  markRead(channelId: string): void {
    const newest = newestSent(this.chat(channelId).messages);
    const s = this.current;
    if (!s.unread[channelId] && (!newest || s.lastRead[channelId] === newest.id)) return;
    this.update((state) => {
      const unread = { ...state.unread };
      delete unread[channelId];
      const lastRead = newest && (!state.lastRead[channelId] || state.lastRead[channelId]! < newest.id) ? { ...state.lastRead, [channelId]: newest.id } : state.lastRead;
      return { ...state, unread, lastRead };
    });
    this.persistRead();
  }

  private persistRead(): void {
    try {
      localStorage.setItem(LAST_READ_KEY, JSON.stringify(this.current.lastRead));
      localStorage.setItem(UNREAD_KEY, JSON.stringify(this.current.unread));
    } catch {
      // Storage full or denied: read markers just do not survive a reload.
    }
  }

  // ---------------------------------------------------------------- real time

  private listen(): void {
    const { gateway } = this;
    const on = <E extends RealtimeEventName>(event: E, listener: (data: RealtimeEvent<E>) => void) =>
      this.unsubscribe.push(gateway.onEvent(event, listener));
    this.unsubscribe.push(
      gateway.on('state', (state) => this.update((s) => ({ ...s, gateway: state }))),
      gateway.on('resumed', () => void this.resync()),
      gateway.on('unauthenticated', () => this.emit('unauthenticated')),
    );

    on('message:created', (message) => this.messageCreated(message));
    on('message:updated', (event) => this.patchChat(event.channelId, (chat) => ({ ...chat, messages: updateMessage(chat.messages, event) }), false));
    on('message:deleted', (event) => this.patchChat(event.channelId, (chat) => ({ ...chat, messages: removeMessage(chat.messages, event.id) }), false));
    on('reaction:added', (e) => this.reaction(e.channelId, e.messageId, e.emoji, 1, e.userId));
    on('reaction:removed', (e) => this.reaction(e.channelId, e.messageId, e.emoji, -1, e.userId));
    on('typing:started', ({ channelId, userId }) => {
      if (userId === this.current.me.id) return;
      this.update((s) => ({ ...s, typing: { ...s.typing, [channelId]: { ...s.typing[channelId], [userId]: Date.now() + TYPING_MS } } }));
      this.typingTimer ??= setInterval(() => this.expireTyping(), 1_000);
    });
    on('presence:updated', ({ userId, status }) => this.update((s) => ({ ...s, presence: { ...s.presence, [userId]: status } })));

    on('server:updated', ({ server }) => this.patchGuild(server.id, (g) => ({ ...g, server })));
    on('server:deleted', ({ serverId }) => this.dropServer(serverId));
    on('channel:created', ({ channel }) => this.upsertChannel(channel));
    on('channel:updated', ({ channel }) => this.upsertChannel(channel));
    on('channel:deleted', ({ serverId, channelId }) => this.removeChannel(serverId, channelId));
    on('role:created', ({ role }) => this.upsertRole(role));
    on('role:updated', ({ role }) => this.upsertRole(role));
    on('role:deleted', ({ serverId, roleId }) =>
      this.patchGuild(serverId, (g) => ({
        ...g,
        roles: g.roles.filter((r) => r.id !== roleId),
        members: mapValues(g.members, (m) => ({ ...m, roleIds: m.roleIds.filter((id) => id !== roleId) })),
      })),
    );
    on('member:joined', ({ member }) => {
      this.upsertMember(member);
      // The event does not say whether they are online; the member route does.
      if (!member.presence && this.current.presence[member.user.id] === undefined) {
        this.api.member(member.serverId, member.user.id).then(
          (fresh) => this.upsertMember(fresh),
          () => undefined,
        );
      }
    });
    on('member:updated', ({ member }) => this.upsertMember(member));
    on('member:left', ({ serverId, userId }) => {
      if (userId === this.current.me.id) this.dropServer(serverId);
      else this.removeMember(serverId, userId);
    });
    on('user:updated', ({ user }) =>
      this.update((s) => ({
        ...s,
        users: { ...s.users, [user.id]: user },
        me: user.id === s.me.id ? { ...s.me, displayName: user.displayName } : s.me,
        guilds: mapValues(s.guilds, (g) => (g.members[user.id] ? { ...g, members: { ...g.members, [user.id]: { ...g.members[user.id]!, user } } } : g)),
      })),
    );
  }

  private messageCreated(message: Message): void {
    const me = this.current.me.id;
    const chat = this.current.chats[message.channelId];
    if (chat?.loaded) this.patchChat(message.channelId, (c) => ({ ...c, messages: mergeMessages(c.messages, [message], me) }));
    // Their message ends their typing.
    if (message.authorId && this.current.typing[message.channelId]?.[message.authorId]) {
      this.update((s) => {
        const typing = { ...s.typing[message.channelId] };
        delete typing[message.authorId!];
        return { ...s, typing: { ...s.typing, [message.channelId]: typing } };
      });
    }
    if (message.authorId === me) return;
    const visible = this.current.activeChannelId === message.channelId && document.visibilityState === 'visible';
    if (visible) {
      this.markRead(message.channelId);
      return;
    }
    const mentioned = message.mentions.includes(me) || message.mentionEveryone;
    this.update((s) => ({
      ...s,
      unread: { ...s.unread, [message.channelId]: { mentions: (s.unread[message.channelId]?.mentions ?? 0) + (mentioned ? 1 : 0) } },
    }));
    this.persistRead();
  }

  private reaction(channelId: string, messageId: string, emoji: string, delta: 1 | -1, userId: string): void {
    const mine = userId === this.current.me.id;
    this.patchChat(channelId, (chat) => ({ ...chat, messages: withReaction(chat.messages, messageId, emoji, delta, mine) }), false);
  }

  private expireTyping(): void {
    const now = Date.now();
    let changed = false;
    const typing: AppState['typing'] = {};
    for (const [channelId, users] of Object.entries(this.current.typing)) {
      const live = Object.fromEntries(Object.entries(users).filter(([, until]) => until > now));
      if (Object.keys(live).length !== Object.keys(users).length) changed = true;
      if (Object.keys(live).length > 0) typing[channelId] = live;
    }
    if (changed) this.update((s) => ({ ...s, typing }));
    if (Object.keys(typing).length === 0) {
      clearInterval(this.typingTimer);
      this.typingTimer = undefined;
    }
  }

  /** After a reconnect: what changed while we were away. */
  private async resync(): Promise<void> {
    try {
      await this.loadServers();
      const loaded = Object.values(this.current.guilds).filter((g) => g.loaded);
      await Promise.all(loaded.map((g) => this.loadGuild(g.server.id, true).catch(() => undefined)));
      const chats = Object.entries(this.current.chats).filter(([, chat]) => chat.loaded);
      await Promise.all(chats.map(([channelId]) => this.loadLatest(channelId, true).catch(() => undefined)));
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') this.emit('unauthenticated');
    }
  }

  // ---------------------------------------------------------------- state helpers

  private upsertChannel(channel: Channel): void {
    this.patchGuild(channel.serverId, (g) => {
      const existing = g.channels.find((c) => c.id === channel.id);
      // The event carries no permission bits: keep the ones we had (ours are recomputed anyway).
      const view: ChannelView = { ...channel, permissions: existing?.permissions ?? 0 };
      return { ...g, channels: sortChannels(existing ? g.channels.map((c) => (c.id === channel.id ? view : c)) : [...g.channels, view]) };
    });
  }

  private removeChannel(serverId: string, channelId: string): void {
    // Channels of a deleted category move out of it, as the server does.
    this.patchGuild(serverId, (g) => ({
      ...g,
      channels: g.channels.filter((c) => c.id !== channelId).map((c) => (c.parentId === channelId ? { ...c, parentId: null } : c)),
    }));
  }

  private upsertRole(role: Role): void {
    this.patchGuild(role.serverId, (g) => {
      const roles = g.roles.some((r) => r.id === role.id) ? g.roles.map((r) => (r.id === role.id ? role : r)) : [...g.roles, role];
      return { ...g, roles: roles.sort((a, b) => b.position - a.position) };
    });
  }

  private upsertMember(member: Member): void {
    this.update((s) => {
      const guild = s.guilds[member.serverId];
      if (!guild) return s;
      return {
        ...s,
        users: { ...s.users, [member.user.id]: member.user },
        presence: member.presence && member.user.id !== s.me.id ? { ...s.presence, [member.user.id]: member.presence } : s.presence,
        guilds: { ...s.guilds, [member.serverId]: { ...guild, members: { ...guild.members, [member.user.id]: member } } },
      };
    });
  }

  private removeMember(serverId: string, userId: string): void {
    this.patchGuild(serverId, (g) => {
      const members = { ...g.members };
      delete members[userId];
      return { ...g, members };
    });
  }

  private dropServer(serverId: string): void {
    this.update((s) => {
      const guilds = { ...s.guilds };
      delete guilds[serverId];
      return { ...s, guilds, serverIds: (s.serverIds ?? []).filter((id) => id !== serverId) };
    });
  }

  private patchGuild(serverId: string, change: (guild: Guild) => Guild): void {
    const guild = this.current.guilds[serverId];
    if (!guild) return;
    this.update((s) => ({ ...s, guilds: { ...s.guilds, [serverId]: change(guild) } }));
  }

  /** `create`: start a chat entry if there is none (false for live events about unloaded channels). */
  private patchChat(channelId: string, change: (chat: ChannelChat) => ChannelChat, create = true): void {
    const chat = this.current.chats[channelId];
    if (!chat && !create) return;
    this.update((s) => ({ ...s, chats: { ...s.chats, [channelId]: change(s.chats[channelId] ?? EMPTY_CHAT) } }));
  }

  private update(change: (state: AppState) => AppState): void {
    if (this.closed) return;
    const next = change(this.current);
    if (next === this.current) return;
    this.current = next;
    this.emit('changed');
  }
}

function emptyGuild(server: Server): Guild {
  return { server, apiPermissions: 0, channels: [], roles: [], members: {}, loaded: false, error: null };
}

function mapValues<T>(record: Record<string, T>, change: (value: T) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, change(value)]));
}

/** Channels a member may see, for the sidebar. */
export const canView = (store: AppStore, channel: ChannelView): boolean => store.can(channel.serverId, Permission.VIEW_CHANNEL, channel.id);
