import { channelPath, navigate } from '../router';
import { initials } from '../ui/Avatar';
import { Compass, Logo, Plus } from '../ui/icons';
import { useAppState, useServices } from './context';

/** The column of server icons: ours, then create and join. */
export function ServerRail({ activeServerId }: { activeServerId: string | null }) {
  const { openDialog } = useServices();
  const serverIds = useAppState((s) => s.serverIds);
  const guilds = useAppState((s) => s.guilds);
  const unread = useAppState((s) => s.unread);

  return (
    <div className="rail" role="list" aria-label="Servers">
      <span className="rail-logo" aria-hidden="true">
        <Logo size={40} />
      </span>
      <span className="rail-separator" aria-hidden="true" />
      {(serverIds ?? []).map((id) => {
        const guild = guilds[id];
        if (!guild) return null;
        const { server } = guild;
        const active = id === activeServerId;
        // Unread and mentions of the server's channels we know of (loaded servers only).
        const channelIds = new Set(guild.channels.map((c) => c.id));
        const marks = Object.entries(unread).filter(([channelId]) => channelIds.has(channelId));
        const mentions = marks.reduce((sum, [, mark]) => sum + mark.mentions, 0);
        return (
          <div role="listitem" key={id} className={`rail-item${active ? ' active' : ''}${marks.length ? ' unread' : ''}`}>
            <span className="rail-pill" aria-hidden="true" />
            <button
              className="rail-button"
              data-testid="server-item"
              data-server-id={id}
              aria-current={active ? 'page' : undefined}
              // The initials shown are the button's visible label, so its name starts with them
              // (WCAG 2.5.3, Label in Name: speech input users say what they see).
              aria-label={`${initials(server.name)}, ${server.name}${mentions ? `, ${mentions} mentions` : marks.length ? ', unread messages' : ''}`}
              title={server.name}
              onClick={() => navigate(channelPath(id))}
            >
              {initials(server.name)}
            </button>
            {mentions > 0 && (
              <span className="badge" aria-hidden="true">
                {mentions}
              </span>
            )}
          </div>
        );
      })}
      <div role="listitem" className="rail-item">
        <button className="rail-button action" data-testid="server-create" aria-label="Create a server" title="Create a server" onClick={() => openDialog({ kind: 'create-server' })}>
          <Plus size={22} />
        </button>
      </div>
      <div role="listitem" className="rail-item">
        <button
          className="rail-button action"
          data-testid="server-join"
          aria-label="Join a server with an invite"
          title="Join a server"
          onClick={() => openDialog({ kind: 'join-server' })}
        >
          <Compass size={22} />
        </button>
      </div>
    </div>
  );
}
