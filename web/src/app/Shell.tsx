import { useEffect, useState } from 'react';
import { Permission } from '@concord/protocol';
import type { SessionResponse } from '@concord/protocol';
import { ApiClient } from '../api/client';
import { ChatPane } from '../chat/ChatPane';
import { describeError } from '../describe-error';
import { Gateway } from '../realtime/gateway';
import { channelPath, navigate, parseRoute, useRoute } from '../router';
import { AppStore, canView } from '../state/store';
import { Logo, Menu, Users } from '../ui/icons';
import { Loading } from '../ui/Loading';
import { CallError } from '../voice/CallError';
import { CallPane } from '../voice/CallPane';
import { VoiceController } from '../voice/controller';
import { usePushToTalk } from '../voice/push-to-talk';
import { ChannelHeader } from './ChannelHeader';
import { ChannelSidebar, UserPanel } from './ChannelSidebar';
import { AppContext, useAppState, useServices } from './context';
import type { AppServices, Dialog } from './context';
import { Dialogs } from './Dialogs';
import { MemberList } from './MemberList';
import { ServerRail } from './ServerRail';
import { usePresenceReporting } from './presence';

/** Everything after sign-in: services for the session, then the layout. */
export function Shell({ session, onSignOut }: { session: SessionResponse; onSignOut: () => void }) {
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [services, setServices] = useState<AppServices | null>(null);

  // Made and closed by an effect, so that each mount (twice under StrictMode) has its own.
  useEffect(() => {
    const api = new ApiClient(() => session.token, onSignOut);
    const store = new AppStore(api, new Gateway(session.token), session.user);
    const voice = new VoiceController(api, { token: session.token, displayName: session.user.displayName });
    const off = store.on('unauthenticated', onSignOut);
    setServices({ store, voice, session, signOut: onSignOut, openDialog: setDialog });
    return () => {
      off();
      voice.close();
      store.close();
    };
  }, [session, onSignOut]);

  if (!services) return <div className="boot" role="status" aria-label="Loading Concord" />;
  return (
    <AppContext.Provider value={services}>
      <Layout />
      {dialog && <Dialogs dialog={dialog} onClose={() => setDialog(null)} />}
    </AppContext.Provider>
  );
}

function Layout() {
  const { store, openDialog } = useServices();
  const route = useRoute();
  const serverIds = useAppState((s) => s.serverIds);
  const guild = useAppState((s) => (route.kind === 'server' ? s.guilds[route.serverId] : undefined));
  const gatewayState = useAppState((s) => s.gateway);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [navOpen, setNavOpen] = useState(false);
  const [membersOpen, setMembersOpen] = useState(() => window.matchMedia('(min-width: 1100px)').matches);
  usePresenceReporting(store);
  usePushToTalk();

  // The member list sits beside the chat in a wide window and over it in a narrow one: crossing
  // the width shows or hides it, as Discord does.
  useEffect(() => {
    const wide = window.matchMedia('(min-width: 1100px)');
    const follow = () => setMembersOpen(wide.matches);
    wide.addEventListener('change', follow);
    return () => wide.removeEventListener('change', follow);
  }, []);

  useEffect(() => {
    store.loadServers().catch((error) => setLoadError(describeError(error)));
    // The server in the address bar loads alongside the list of servers, not after it.
    const first = parseRoute(location.pathname);
    if (first.kind === 'server') store.loadGuild(first.serverId).catch(() => undefined);
  }, [store]);

  // An invite link opens the join dialog, over wherever the user was.
  useEffect(() => {
    if (route.kind !== 'invite') return;
    openDialog({ kind: 'join-server', code: route.code });
    navigate('/', true);
  }, [route, openDialog]);

  const serverId = route.kind === 'server' ? route.serverId : null;
  const channelId = route.kind === 'server' ? route.channelId : null;

  useEffect(() => {
    if (serverId && guild && !guild.loaded && !guild.error) store.loadGuild(serverId).catch(() => undefined);
  }, [store, serverId, guild]);

  // No server chosen (or one we are no longer in): the first one.
  useEffect(() => {
    if (!serverIds) return;
    if ((route.kind === 'home' || (serverId && !serverIds.includes(serverId))) && serverIds[0]) navigate(channelPath(serverIds[0]), true);
    else if (serverId && !serverIds.includes(serverId) && serverIds.length === 0) navigate('/', true);
  }, [serverIds, route.kind, serverId]);

  // A server without a channel chosen (or with one that is gone): its first text channel we can see.
  const channel = guild?.channels.find((c) => c.id === channelId);
  useEffect(() => {
    if (!guild?.loaded || !serverId) return;
    if (channelId && channel && channel.kind !== 'category') return;
    const first = guild.channels.find((c) => c.kind === 'text' && canView(store, c));
    if (first) navigate(channelPath(serverId, first.id), true);
  }, [guild, serverId, channelId, channel, store]);

  useEffect(() => {
    store.chat.open(channel?.kind === 'text' ? channel.id : null);
    setNavOpen(false);
  }, [store, channel?.id, channel?.kind]);

  useEffect(() => {
    const title = channel ? `${channel.kind === 'text' ? '#' : ''}${channel.name} · ${guild?.server.name}` : 'Concord';
    document.title = title;
  }, [channel, guild?.server.name]);

  const canSeeChannel = channel ? store.can(channel.serverId, Permission.VIEW_CHANNEL, channel.id) : false;

  return (
    <div className={`layout${navOpen ? ' nav-open' : ''}${membersOpen && guild ? ' members-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="nav-drawer" aria-label="Servers and channels">
        <ServerRail activeServerId={serverId} />
        {serverId && guild ? (
          <ChannelSidebar serverId={serverId} activeChannelId={channelId} />
        ) : (
          <aside className="sidebar empty-sidebar">
            <UserPanelOnly />
          </aside>
        )}
      </nav>
      <button className="nav-scrim" aria-hidden="true" tabIndex={-1} onClick={() => setNavOpen(false)} />
      <main className="main" id="main">
        <header className="main-header">
          <button className="icon-button nav-toggle" aria-label="Open servers and channels" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
            <Menu />
          </button>
          {channel ? <ChannelHeader channel={channel} /> : <h1 className="main-title">{guild?.server.name ?? 'Concord'}</h1>}
          <span className="spacer" />
          {/* A call that ended away from its channel (the server was left or deleted) still says why. */}
          {!(channel && canSeeChannel && channel.kind === 'voice') && <CallError />}
          {gatewayState !== 'connected' && (
            <span className="gateway-state" role="status" data-testid="gateway-state" data-state={gatewayState}>
              {gatewayState === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
            </span>
          )}
          {guild && (
            <button
              className="icon-button"
              aria-label={membersOpen ? 'Hide member list' : 'Show member list'}
              aria-pressed={membersOpen}
              data-testid="toggle-members"
              onClick={() => setMembersOpen(!membersOpen)}
            >
              <Users />
            </button>
          )}
        </header>
        <div className="main-body">
          {loadError ? (
            <Welcome title="Cannot load your servers" text={loadError} />
          ) : serverIds?.length === 0 ? (
            <Welcome title="Welcome to Concord" text="Create a server for your friends, or join one with an invite." actions />
          ) : channel && canSeeChannel && channel.kind === 'text' ? (
            <ChatPane key={channel.id} channel={channel} />
          ) : channel && canSeeChannel && channel.kind === 'voice' ? (
            <CallPane channel={channel} />
          ) : guild?.error ? (
            <Welcome title="Cannot load this server" text={guild.error} />
          ) : guild?.loaded ? (
            <Welcome title={guild.server.name} text="No channel you can see here yet." />
          ) : (
            <Loading />
          )}
        </div>
      </main>
      {guild && membersOpen && (
        <>
          <MemberList serverId={guild.server.id} channelId={channel?.kind === 'text' ? channel.id : null} />
          <button className="members-scrim" aria-hidden="true" tabIndex={-1} onClick={() => setMembersOpen(false)} />
        </>
      )}
    </div>
  );
}

function Welcome({ title, text, actions }: { title: string; text: string; actions?: boolean }) {
  const { openDialog } = useServices();
  return (
    <section className="welcome">
      <Logo size={64} />
      <h2>{title}</h2>
      <p className="muted">{text}</p>
      {actions && (
        <div className="row">
          <button className="primary" onClick={() => openDialog({ kind: 'create-server' })}>
            Create a server
          </button>
          <button onClick={() => openDialog({ kind: 'join-server' })}>Join with an invite</button>
        </div>
      )}
    </section>
  );
}

function UserPanelOnly() {
  return (
    <div className="sidebar-fill">
      <UserPanel />
    </div>
  );
}
