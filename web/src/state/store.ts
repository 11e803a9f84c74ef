import { ProtocolError, has, Permission } from '@concord/protocol';
import type { Channel, ChannelView, PublicUser, RealtimeEvent, RealtimeEventName, Role, Server } from '@concord/protocol';
import type { ApiClient } from '../api/client';
import { TypedEmitter } from '../call/emitter';
import { describeError } from '../describe-error';
import type { Gateway } from '../realtime/gateway';
import { initialState, patchGuild } from './app-state';
import type { AppState, Guild } from './app-state';
import { ChatActions } from './chat-actions';
import { channelMoves, channelRemoved, channelsMoved, channelUpserted, findChannel, withOverwrite } from './channels';
import { shareInFlight } from './in-flight';
import { displayName, memberRemoved, memberUpserted, userUpdated } from './members';
import { messageRemoved, messageUpdated, reactionChanged } from './messages';
import { myPermissions } from './permissions';
import { presenceUpdated } from './presence';
import { memberRoleSet, roleRemoved, roleUpserted } from './roles';
import { guildFailed, guildLoaded, serverAdded, serverDropped, serversListed, serverUpdated } from './servers';
import { typingExpired, typingStarted } from './typing';
import { loadReadMarkers } from './unread';

export type StoreEvents = { changed: []; unauthenticated: [] };

/**
 * The signed-in app's data: servers, channels, roles, members, presence, chat. REST fetches fill
 * it, real-time events keep it current, and a reconnect of the gateway fetches what may have been
 * missed. The snapshot (app-state.ts) changes only through the pure transitions of the slice
 * modules; this class runs the requests and events that call for them (the chat's in `chat`,
 * ChatActions). Immutable snapshots for React (useSyncExternalStore); actions throw
 * ProtocolErrors with plain words for the UI to show where they happened.
 */
export class AppStore extends TypedEmitter<StoreEvents> {
  private current: AppState;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly loadingGuilds = new Map<string, Promise<void>>();
  private typingTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Loading, sending, editing, reacting and reading in channels. */
  readonly chat: ChatActions;

  constructor(
    readonly api: ApiClient,
    readonly gateway: Gateway,
    me: PublicUser,
  ) {
    super();
    this.current = initialState(me, gateway.state, loadReadMarkers());
    this.chat = new ChatActions({ api, state: () => this.current, closed: () => this.closed, update: (change) => this.update(change) });
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
    return findChannel(this.current, channelId);
  }

  /** Our bits on the server, or in one of its channels. */
  permissions(serverId: string, channelId?: string): number {
    return myPermissions(this.current, serverId, channelId);
  }

  can(serverId: string, bits: number, channelId?: string): boolean {
    return has(this.permissions(serverId, channelId), bits);
  }

  displayName(userId: string | null, serverId?: string): string {
    return displayName(this.current, userId, serverId);
  }

  // ---------------------------------------------------------------- servers

  /** Our servers; each one's channels, roles and members load when it is opened. */
  async loadServers(): Promise<void> {
    const servers = await this.api.myServers();
    this.update((s) => serversListed(s, servers));
  }

  loadGuild(serverId: string, force = false): Promise<void> {
    if (this.current.guilds[serverId]?.loaded && !force) return Promise.resolve();
    return shareInFlight(this.loadingGuilds, serverId, () => this.fetchGuild(serverId));
  }

  private async fetchGuild(serverId: string): Promise<void> {
    try {
      const [view, channels, roles, members] = await Promise.all([
        this.api.server(serverId),
        this.api.channels(serverId),
        this.api.roles(serverId),
        this.api.members(serverId),
      ]);
      this.update((s) => guildLoaded(s, { view, channels, roles, members }));
    } catch (error) {
      this.update((s) => guildFailed(s, serverId, describeError(error)));
      throw error;
    }
  }

  async createServer(name: string): Promise<Server> {
    const server = await this.api.createServer({ name });
    this.update((s) => serverAdded(s, server));
    return server;
  }

  async joinInvite(code: string): Promise<Server> {
    const server = await this.api.acceptInvite(code);
    this.update((s) => serverAdded(s, server));
    return server;
  }

  async updateServer(serverId: string, name: string): Promise<void> {
    const server = await this.api.updateServer(serverId, { name });
    this.update((s) => serverUpdated(s, server));
  }

  async deleteServer(serverId: string): Promise<void> {
    await this.api.deleteServer(serverId);
    this.update((s) => serverDropped(s, serverId));
  }

  async leaveServer(serverId: string): Promise<void> {
    await this.api.leaveServer(serverId);
    this.update((s) => serverDropped(s, serverId));
  }

  // ---------------------------------------------------------------- channels

  async createChannel(serverId: string, name: string, kind: 'text' | 'voice' | 'category', parentId: string | null): Promise<Channel> {
    const channel = await this.api.createChannel(serverId, { name, kind, ...(parentId && { parentId }) });
    this.update((s) => channelUpserted(s, channel));
    return channel;
  }

  async updateChannel(channelId: string, change: { name?: string; topic?: string | null }): Promise<void> {
    const channel = await this.api.updateChannel(channelId, change);
    this.update((s) => channelUpserted(s, channel));
  }

  async deleteChannel(channelId: string): Promise<void> {
    const channel = this.channel(channelId);
    await this.api.deleteChannel(channelId);
    if (channel) this.update((s) => channelRemoved(s, channel.serverId, channelId));
  }

  /** Moves a channel one place up or down among its siblings, at once, undone if the server refuses. */
  async moveChannel(channelId: string, direction: -1 | 1): Promise<void> {
    const channel = this.channel(channelId);
    if (!channel) return;
    const { serverId } = channel;
    const before = this.current.guilds[serverId]!.channels;
    const moves = channelMoves(this.current.guilds[serverId]!, channelId, direction);
    if (moves.length === 0) return;
    this.update((s) => channelsMoved(s, serverId, moves));
    try {
      await this.api.reorderChannels(serverId, moves);
    } catch (error) {
      this.update((s) => patchGuild(s, serverId, (g) => ({ ...g, channels: before })));
      throw error;
    }
  }

  async setOverwrite(channelId: string, targetType: 'role' | 'member', targetId: string, allow: number, deny: number): Promise<void> {
    if (allow === 0 && deny === 0) await this.api.deleteOverwrite(channelId, targetType, targetId);
    else await this.api.setOverwrite(channelId, targetType, targetId, { allow, deny });
    const channel = this.channel(channelId);
    if (channel) this.update((s) => channelUpserted(s, withOverwrite(channel, { targetType, targetId, allow, deny })));
  }

  // ---------------------------------------------------------------- roles and members

  async createRole(serverId: string, name: string, permissions: number, colour?: number): Promise<Role> {
    const role = await this.api.createRole(serverId, { name, permissions, ...(colour !== undefined && { colour }) });
    this.update((s) => roleUpserted(s, role));
    return role;
  }

  async updateRole(serverId: string, roleId: string, change: { name?: string; colour?: number; permissions?: number }): Promise<void> {
    const role = await this.api.updateRole(serverId, roleId, change);
    this.update((s) => roleUpserted(s, role));
  }

  async deleteRole(serverId: string, roleId: string): Promise<void> {
    await this.api.deleteRole(serverId, roleId);
    this.update((s) => roleRemoved(s, serverId, roleId));
  }

  async setMemberRole(serverId: string, userId: string, roleId: string, on: boolean): Promise<void> {
    if (on) await this.api.addMemberRole(serverId, userId, roleId);
    else await this.api.removeMemberRole(serverId, userId, roleId);
    this.update((s) => memberRoleSet(s, serverId, userId, roleId, on));
  }

  async kick(serverId: string, userId: string): Promise<void> {
    await this.api.kick(serverId, userId);
    this.update((s) => memberRemoved(s, serverId, userId));
  }

  async ban(serverId: string, userId: string, reason?: string): Promise<void> {
    await this.api.ban(serverId, userId, reason);
    this.update((s) => memberRemoved(s, serverId, userId));
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

    on('message:created', (message) => this.chat.received(message));
    on('message:updated', (event) => this.update((s) => messageUpdated(s, event)));
    on('message:deleted', (event) => this.update((s) => messageRemoved(s, event.channelId, event.id)));
    on('reaction:added', (e) => this.update((s) => reactionChanged(s, e.channelId, e.messageId, e.emoji, 1, e.userId)));
    on('reaction:removed', (e) => this.update((s) => reactionChanged(s, e.channelId, e.messageId, e.emoji, -1, e.userId)));
    on('typing:started', ({ channelId, userId }) => {
      if (!this.update((s) => typingStarted(s, channelId, userId, Date.now()))) return;
      this.typingTimer ??= setInterval(() => this.expireTyping(), 1_000);
    });
    on('presence:updated', ({ userId, status }) => this.update((s) => presenceUpdated(s, userId, status)));

    on('server:updated', ({ server }) => this.update((s) => serverUpdated(s, server)));
    on('server:deleted', ({ serverId }) => this.update((s) => serverDropped(s, serverId)));
    on('channel:created', ({ channel }) => this.update((s) => channelUpserted(s, channel)));
    on('channel:updated', ({ channel }) => this.update((s) => channelUpserted(s, channel)));
    on('channel:deleted', ({ serverId, channelId }) => this.update((s) => channelRemoved(s, serverId, channelId)));
    on('role:created', ({ role }) => this.update((s) => roleUpserted(s, role)));
    on('role:updated', ({ role }) => this.update((s) => roleUpserted(s, role)));
    on('role:deleted', ({ serverId, roleId }) => this.update((s) => roleRemoved(s, serverId, roleId)));
    on('member:joined', ({ member }) => {
      this.update((s) => memberUpserted(s, member));
      // The event does not say whether they are online; the member route does.
      if (!member.presence && this.current.presence[member.user.id] === undefined) {
        this.api.member(member.serverId, member.user.id).then(
          (fresh) => this.update((s) => memberUpserted(s, fresh)),
          () => undefined,
        );
      }
    });
    on('member:updated', ({ member }) => this.update((s) => memberUpserted(s, member)));
    on('member:left', ({ serverId, userId }) =>
      this.update((s) => (userId === s.me.id ? serverDropped(s, serverId) : memberRemoved(s, serverId, userId))),
    );
    on('user:updated', ({ user }) => this.update((s) => userUpdated(s, user)));
  }

  private expireTyping(): void {
    this.update((s) => typingExpired(s, Date.now()));
    if (Object.values(this.current.typing).every((users) => Object.keys(users).length === 0)) {
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
      await Promise.all(chats.map(([channelId]) => this.chat.loadLatest(channelId, true).catch(() => undefined)));
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') this.emit('unauthenticated');
    }
  }

  /** Applies a transition; says whether the snapshot changed (and listeners were told). */
  private update(change: (state: AppState) => AppState): boolean {
    if (this.closed) return false;
    const next = change(this.current);
    if (next === this.current) return false;
    this.current = next;
    this.emit('changed');
    return true;
  }
}

/** Channels a member may see, for the sidebar. */
export const canView = (store: AppStore, channel: ChannelView): boolean => store.can(channel.serverId, Permission.VIEW_CHANNEL, channel.id);
