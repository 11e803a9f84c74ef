import { useEffect, useRef, useState } from 'react';
import type { MouseEvent } from 'react';
import { Permission, has } from '@concord/protocol';
import type { ChannelView } from '@concord/protocol';
import { channelPath, navigate } from '../router';
import { canView } from '../state/store';
import { Avatar } from '../ui/Avatar';
import { ChevronDown, Gear, Hash, Headphones, HeadphonesOff, Mic, MicOff, PhoneOff, Plus, SpeakerIcon, UserPlus } from '../ui/icons';
import { VoiceState } from '../voice/VoiceState';
import { useAppState, useServices, useVoice } from './context';

/** The permissions that open some tab of the server settings. */
const SETTINGS_BITS = [Permission.MANAGE_SERVER, Permission.MANAGE_ROLES, Permission.KICK_MEMBERS, Permission.BAN_MEMBERS];

/** The server's channels (by category), who is in our voice channel, then our voice and user panels. */
export function ChannelSidebar({ serverId, activeChannelId }: { serverId: string; activeChannelId: string | null }) {
  const { store, openDialog } = useServices();
  const guild = useAppState((s) => s.guilds[serverId]);
  // Re-render on role and member changes too: they decide what we see.
  useAppState((s) => s.guilds[serverId]?.members[s.me.id]);
  const unread = useAppState((s) => s.unread);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const listRef = useRef<HTMLDivElement>(null);
  if (!guild) return null;

  const perms = store.permissions(serverId);
  const canManageChannels = has(perms, Permission.MANAGE_CHANNELS);
  const canSettings = SETTINGS_BITS.some((bit) => has(perms, bit));
  const visible = guild.channels.filter((c) => c.kind === 'category' || canView(store, c));
  const top = visible.filter((c) => c.kind !== 'category' && !c.parentId);
  const categories = visible.filter((c) => c.kind === 'category');

  // Alt+ArrowUp/ArrowDown moves between channels, as on Discord.
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (!event.altKey || (event.key !== 'ArrowUp' && event.key !== 'ArrowDown')) return;
    const links = [...(listRef.current?.querySelectorAll<HTMLAnchorElement>('a.channel') ?? [])];
    const index = links.findIndex((link) => link === document.activeElement);
    const next = links[index + (event.key === 'ArrowDown' ? 1 : -1)];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  };

  const renderChannel = (channel: ChannelView) => (
    <ChannelRow key={channel.id} channel={channel} active={channel.id === activeChannelId} unread={unread[channel.id]} canManage={canManageChannels} />
  );

  return (
    <aside className="sidebar" aria-label={`${guild.server.name} channels`}>
      <ServerMenu serverId={serverId} canSettings={canSettings} canManageChannels={canManageChannels} />
      <div className="channel-list" ref={listRef} onKeyDown={onKeyDown}>
        {guild.loaded && visible.length === 0 && <p className="muted pad">No channels yet.</p>}
        <ul role="list">{top.map(renderChannel)}</ul>
        {categories.map((category) => {
          const children = visible.filter((c) => c.parentId === category.id && c.kind !== 'category');
          const isCollapsed = collapsed.has(category.id);
          return (
            <section key={category.id} className="category" aria-label={category.name}>
              <div className="category-header">
                <button
                  className="category-toggle"
                  aria-expanded={!isCollapsed}
                  data-testid="category-item"
                  data-channel-id={category.id}
                  onClick={() => {
                    const next = new Set(collapsed);
                    if (isCollapsed) next.delete(category.id);
                    else next.add(category.id);
                    setCollapsed(next);
                  }}
                >
                  <span className={isCollapsed ? 'chevron collapsed' : 'chevron'}>
                    <ChevronDown size={12} />
                  </span>
                  {category.name}
                </button>
                {canManageChannels && (
                  <>
                    <button className="icon-button tiny" aria-label={`Edit category ${category.name}`} onClick={() => openDialog({ kind: 'channel-settings', channelId: category.id })}>
                      <Gear size={14} />
                    </button>
                    <button
                      className="icon-button tiny"
                      aria-label={`Create a channel in ${category.name}`}
                      onClick={() => openDialog({ kind: 'create-channel', serverId, kind_: 'text', parentId: category.id })}
                    >
                      <Plus size={16} />
                    </button>
                  </>
                )}
              </div>
              <ul role="list">{children.filter((c) => !isCollapsed || c.id === activeChannelId || unread[c.id]).map(renderChannel)}</ul>
            </section>
          );
        })}
      </div>
      <VoicePanel />
      <UserPanel />
    </aside>
  );
}

function ServerMenu({ serverId, canSettings, canManageChannels }: { serverId: string; canSettings: boolean; canManageChannels: boolean }) {
  const { store, openDialog, session } = useServices();
  const guild = useAppState((s) => s.guilds[serverId]);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (!ref.current?.contains(event.target as Node)) setOpen(false);
    };
    const escape = (event: KeyboardEvent) => event.key === 'Escape' && setOpen(false);
    document.addEventListener('pointerdown', close);
    document.addEventListener('keydown', escape);
    return () => {
      document.removeEventListener('pointerdown', close);
      document.removeEventListener('keydown', escape);
    };
  }, [open]);
  if (!guild) return null;
  const canInvite = store.can(serverId, Permission.CREATE_INVITE);
  const isOwner = guild.server.ownerId === session.user.id;
  const item = (label: string, testId: string, action: () => void, danger = false) => (
    <li role="none">
      <button
        role="menuitem"
        className={danger ? 'menu-item danger' : 'menu-item'}
        data-testid={testId}
        onClick={() => {
          setOpen(false);
          action();
        }}
      >
        {label}
      </button>
    </li>
  );
  return (
    <div className="server-menu" ref={ref}>
      <button className="server-header" aria-haspopup="menu" aria-expanded={open} data-testid="server-menu" onClick={() => setOpen(!open)}>
        <span className="ellipsis">{guild.server.name}</span>
        <ChevronDown size={18} />
      </button>
      {canInvite && (
        <button className="icon-button invite-shortcut" aria-label="Invite people" data-testid="invite-open" onClick={() => openDialog({ kind: 'invite', serverId })}>
          <UserPlus size={18} />
        </button>
      )}
      {open && (
        <ul className="menu" role="menu" aria-label="Server menu">
          {canInvite && item('Invite people', 'menu-invite', () => openDialog({ kind: 'invite', serverId }))}
          {canSettings && item('Server settings', 'server-settings', () => openDialog({ kind: 'server-settings', serverId }))}
          {canManageChannels && item('Create channel', 'channel-create', () => openDialog({ kind: 'create-channel', serverId, kind_: 'text', parentId: null }))}
          {canManageChannels && item('Create category', 'category-create', () => openDialog({ kind: 'create-channel', serverId, kind_: 'category', parentId: null }))}
          {!isOwner &&
            item(
              'Leave server',
              'server-leave',
              () =>
                openDialog({
                  kind: 'confirm',
                  title: `Leave ${guild.server.name}`,
                  text: `Are you sure you want to leave ${guild.server.name}? You will need a new invite to come back.`,
                  action: 'Leave server',
                  run: async () => {
                    await store.leaveServer(serverId);
                    navigate('/');
                  },
                }),
              true,
            )}
        </ul>
      )}
    </div>
  );
}

function ChannelRow({ channel, active, unread, canManage }: { channel: ChannelView; active: boolean; unread: { mentions: number } | undefined; canManage: boolean }) {
  const { store, voice, openDialog } = useServices();
  const voiceView = useVoice();
  const isVoice = channel.kind === 'voice';
  const connectedHere = isVoice && voiceView.channelId === channel.id;
  const canManageRoles = store.can(channel.serverId, Permission.MANAGE_ROLES, channel.id);

  const open = (event: MouseEvent) => {
    event.preventDefault();
    navigate(channelPath(channel.serverId, channel.id));
    // Opening a voice channel joins it, as on Discord (if we may connect).
    if (isVoice && store.can(channel.serverId, Permission.CONNECT, channel.id)) voice.join(channel.serverId, channel.id);
  };

  const classes = ['channel', active && 'active', unread && !active && 'unread'].filter(Boolean).join(' ');
  return (
    <li className="channel-row">
      <a
        className={classes}
        href={channelPath(channel.serverId, channel.id)}
        onClick={open}
        aria-current={active ? 'page' : undefined}
        data-testid="channel-item"
        data-channel-id={channel.id}
        data-kind={channel.kind}
        data-unread={unread && !active ? 'true' : undefined}
        aria-label={`${channel.name} (${isVoice ? 'voice' : 'text'} channel${unread?.mentions ? `, ${unread.mentions} mentions` : unread ? ', unread' : ''})`}
      >
        <span className="channel-icon" aria-hidden="true">
          {isVoice ? <SpeakerIcon size={18} /> : <Hash size={18} />}
        </span>
        <span className="channel-name ellipsis">{channel.name}</span>
        {unread && unread.mentions > 0 && !active && <span className="badge">{unread.mentions}</span>}
      </a>
      {(canManage || canManageRoles) && (
        <button
          className="icon-button tiny channel-gear"
          aria-label={`Edit channel ${channel.name}`}
          data-testid="channel-settings"
          data-channel-id={channel.id}
          onClick={() => openDialog({ kind: 'channel-settings', channelId: channel.id })}
        >
          <Gear size={14} />
        </button>
      )}
      {connectedHere && <VoiceOccupants serverId={channel.serverId} />}
    </li>
  );
}

/**
 * Who is in the voice channel we are in, with who is speaking. (For other voice channels the
 * server sends no occupancy, so none is shown.)
 */
function VoiceOccupants({ serverId }: { serverId: string }) {
  const { store } = useServices();
  const { call } = useVoice();
  if (!call || call.participants.length === 0) return null;
  return (
    <ul className="voice-occupants" role="list" aria-label="In this voice channel">
      {call.participants.map((p) => {
        const micOff = p.isLocal ? !call.media.mic : !p.tracks.mic || p.tracks.mic.paused;
        return (
          <li key={p.id} className="occupant" data-testid="voice-occupant" data-user-id={p.id} data-speaking={String(p.speaking)}>
            <Avatar id={p.id} name={store.displayName(p.id, serverId)} size={22} speaking={p.speaking} />
            <span className="ellipsis">{store.displayName(p.id, serverId)}</span>
            {p.tracks.screen && <span className="live-badge">LIVE</span>}
            {micOff && (
              <span className="occupant-icon" role="img" aria-label="Muted">
                <MicOff size={14} />
              </span>
            )}
          </li>
        );
      })}
    </ul>
  );
}

/** While in a voice channel: its state and a way out, whatever channel is on screen. */
function VoicePanel() {
  const { store, voice } = useServices();
  const view = useVoice();
  const channel = view.channelId ? store.channel(view.channelId) : undefined;
  const serverName = useAppState((s) => (view.serverId ? s.guilds[view.serverId]?.server.name : undefined));
  if (!view.channelId) return null;
  return (
    <section className="voice-panel" aria-label="Voice connection">
      <div className="voice-panel-text">
        <VoiceState state={view.call?.state ?? 'connecting'} testId="voice-panel-state" />
        <a
          className="voice-panel-where ellipsis"
          href={view.serverId ? channelPath(view.serverId, view.channelId) : '#'}
          onClick={(event) => {
            event.preventDefault();
            if (view.serverId) navigate(channelPath(view.serverId, view.channelId));
          }}
        >
          {channel?.name ?? 'Voice'} / {serverName}
        </a>
      </div>
      <button className="icon-button" aria-label="Disconnect from voice" title="Disconnect" data-testid="voice-panel-leave" onClick={() => voice.leave()}>
        <PhoneOff />
      </button>
    </section>
  );
}

/** Who we are, our presence, and (in a call) mute and deafen; settings. */
export function UserPanel() {
  const { session, voice, openDialog } = useServices();
  const me = useAppState((s) => s.me);
  const presence = useAppState((s) => s.presence[s.me.id]);
  const view = useVoice();
  const call = view.call;
  const inCall = !!call && call.state !== 'disconnected';
  return (
    <section className="user-panel" aria-label="You">
      <Avatar id={me.id} name={me.displayName} size={32} presence={presence ?? 'online'} />
      <span className="user-names">
        <span className="ellipsis user-display" data-testid="current-user" data-user-id={me.id}>
          {me.displayName}
        </span>
        <span className="ellipsis muted small">{session.user.username}</span>
      </span>
      {inCall && (
        <>
          <button
            className={`icon-button${call.media.mic ? '' : ' off'}`}
            aria-label={call.media.mic ? 'Mute' : 'Unmute'}
            aria-pressed={!call.media.mic}
            title={call.media.mic ? 'Mute' : 'Unmute'}
            data-testid="panel-mic"
            onClick={() => void voice.currentRoom?.toggleMic()}
          >
            {call.media.mic ? <Mic size={18} /> : <MicOff size={18} />}
          </button>
          <button
            className={`icon-button${call.media.deafened ? ' off' : ''}`}
            aria-label={call.media.deafened ? 'Undeafen' : 'Deafen'}
            aria-pressed={call.media.deafened}
            title={call.media.deafened ? 'Undeafen' : 'Deafen'}
            data-testid="panel-deafen"
            onClick={() => void voice.currentRoom?.toggleDeafen()}
          >
            {call.media.deafened ? <HeadphonesOff size={18} /> : <Headphones size={18} />}
          </button>
        </>
      )}
      <button className="icon-button" aria-label="User settings" title="User settings" data-testid="user-settings" onClick={() => openDialog({ kind: 'user-settings' })}>
        <Gear size={18} />
      </button>
    </section>
  );
}
