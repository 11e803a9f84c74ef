import { useEffect, useState } from 'react';
import { Permission, ServerName, RoleName, canGrant, canManageMember, has } from '@concord/protocol';
import type { Invite, Role } from '@concord/protocol';
import { useAppState, useServices } from '../app/context';
import { useSubmit, inviteLink } from '../app/Dialogs';
import { MemberDialog, roleColour, rolesOf } from '../app/MemberList';
import { describeError } from '../describe-error';
import { navigate } from '../router';
import { Avatar } from '../ui/Avatar';
import { ErrorText, Modal } from '../ui/Modal';
import { Plus } from '../ui/icons';
import { PERMISSION_GROUPS } from './permission-info';

type Tab = 'overview' | 'roles' | 'members' | 'invites';

const ROLE_COLOURS = [0, 0x1abc9c, 0x2ecc71, 0x3498db, 0x9b59b6, 0xe91e63, 0xf1c40f, 0xe67e22, 0xe74c3c, 0x607d8b];

/** Server settings, each tab shown only to those allowed to use it. */
export function ServerSettings({ serverId, initialTab, onClose }: { serverId: string; initialTab: Tab; onClose: () => void }) {
  const { store, session } = useServices();
  const guild = useAppState((s) => s.guilds[serverId]);
  useAppState((s) => s.guilds[serverId]?.members[s.me.id]);
  const perms = store.permissions(serverId);
  const tabs: { id: Tab; label: string; allowed: boolean }[] = [
    { id: 'overview', label: 'Overview', allowed: has(perms, Permission.MANAGE_SERVER) || guild?.server.ownerId === session.user.id },
    { id: 'roles', label: 'Roles', allowed: has(perms, Permission.MANAGE_ROLES) },
    { id: 'members', label: 'Members', allowed: has(perms, Permission.KICK_MEMBERS) || has(perms, Permission.BAN_MEMBERS) || has(perms, Permission.MANAGE_ROLES) },
    { id: 'invites', label: 'Invites', allowed: has(perms, Permission.MANAGE_SERVER) },
  ];
  const allowed = tabs.filter((t) => t.allowed);
  const [tab, setTab] = useState<Tab>(allowed.some((t) => t.id === initialTab) ? initialTab : (allowed[0]?.id ?? 'overview'));
  if (!guild) return null;

  return (
    <Modal title={`${guild.server.name} — server settings`} onClose={onClose} wide testId="server-settings-dialog">
      <div className="settings">
        <nav className="settings-nav" aria-label="Settings sections">
          <div role="tablist" aria-orientation="vertical">
            {allowed.map((t) => (
              <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : undefined} data-testid={`settings-tab-${t.id}`} onClick={() => setTab(t.id)}>
                {t.label}
              </button>
            ))}
          </div>
        </nav>
        <div className="settings-content" role="tabpanel">
          {tab === 'overview' && <Overview serverId={serverId} onClose={onClose} />}
          {tab === 'roles' && <Roles serverId={serverId} />}
          {tab === 'members' && <Members serverId={serverId} />}
          {tab === 'invites' && <Invites serverId={serverId} />}
        </div>
      </div>
    </Modal>
  );
}

function Overview({ serverId, onClose }: { serverId: string; onClose: () => void }) {
  const { store, session, openDialog } = useServices();
  const guild = useAppState((s) => s.guilds[serverId])!;
  const [name, setName] = useState(guild.server.name);
  const [saved, setSaved] = useState(false);
  const canRename = store.can(serverId, Permission.MANAGE_SERVER);
  const { error, setError, busy, submit } = useSubmit(async () => {
    if (!ServerName.safeParse(name).success) return setError('Server names are 1 to 100 characters on one line.');
    await store.updateServer(serverId, name.trim());
    setSaved(true);
  });
  return (
    <section>
      <h3>Overview</h3>
      <form className="form" onSubmit={submit} noValidate>
        <label>
          Server name
          <input data-testid="server-rename" value={name} disabled={!canRename} onChange={(e) => (setName(e.target.value), setSaved(false))} />
        </label>
        <ErrorText error={error} />
        {canRename && (
          <div className="row">
            <button className="primary" data-testid="server-rename-save" disabled={busy || name.trim() === guild.server.name}>
              Save changes
            </button>
            {saved && <span className="muted small" role="status">Saved.</span>}
          </div>
        )}
      </form>
      {guild.server.ownerId === session.user.id && <ModeratorTwoFactor serverId={serverId} />}
      {guild.server.ownerId === session.user.id && (
        <div className="danger-zone">
          <h4>Delete this server</h4>
          <p className="muted small">Every channel, message and role goes with it. This cannot be undone.</p>
          <button
            className="danger"
            data-testid="server-delete"
            onClick={() => {
              onClose();
              openDialog({
                kind: 'confirm',
                title: `Delete ${guild.server.name}`,
                text: `Delete ${guild.server.name} and everything in it for everyone? This cannot be undone.`,
                action: 'Delete server',
                run: async () => {
                  await store.deleteServer(serverId);
                  navigate('/');
                },
              });
            }}
          >
            Delete server
          </button>
        </div>
      )}
    </section>
  );
}

/**
 * The owner's "moderators must have two-factor sign-in" rule: moderator permissions (kick, ban,
 * manage …) then act only for members who have it. The owner needs it to turn the rule on.
 */
function ModeratorTwoFactor({ serverId }: { serverId: string }) {
  const { store } = useServices();
  const [required, setRequired] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    store.api.server(serverId).then((view) => setRequired(view.moderatorsNeedTwoFactor), (e) => setError(describeError(e)));
  }, [store, serverId]);
  const change = (next: boolean) => {
    setError(null);
    store.api.setModeratorTwoFactor(serverId, { required: next }).then((rule) => setRequired(rule.required), (e) => setError(describeError(e)));
  };
  return (
    <div className="form">
      <h4>Moderation</h4>
      <label className="check">
        <input type="checkbox" data-testid="server-2fa-required" checked={required ?? false} disabled={required === null} onChange={(e) => change(e.target.checked)} />
        Moderators must have two-factor sign-in
      </label>
      <p className="muted small">Kicking, banning, managing the server, channels, roles and messages, and muting or moving others then work only for members with two-factor sign-in.</p>
      <ErrorText error={error} />
    </div>
  );
}

/** Our highest role position (owner: above all). */
function useMyRank(serverId: string): number {
  const { session } = useServices();
  const guild = useAppState((s) => s.guilds[serverId])!;
  if (guild.server.ownerId === session.user.id) return Number.POSITIVE_INFINITY;
  const me = guild.members[session.user.id];
  return Math.max(0, ...guild.roles.filter((r) => me?.roleIds.includes(r.id)).map((r) => r.position));
}

function Roles({ serverId }: { serverId: string }) {
  const { store } = useServices();
  const guild = useAppState((s) => s.guilds[serverId])!;
  const roles = [...guild.roles].sort((a, b) => b.position - a.position);
  const [selectedId, setSelectedId] = useState<string | null>(roles[0]?.id ?? null);
  const [error, setError] = useState<string | null>(null);
  const selected = roles.find((r) => r.id === selectedId) ?? roles[0];
  const rank = useMyRank(serverId);

  const create = async () => {
    setError(null);
    try {
      const role = await store.createRole(serverId, 'new role', 0);
      setSelectedId(role.id);
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <section className="roles">
      <div className="roles-list">
        <div className="row between">
          <h3>Roles</h3>
          <button className="icon-button" aria-label="Create role" title="Create role" data-testid="role-create" onClick={() => void create()}>
            <Plus />
          </button>
        </div>
        <ErrorText error={error} />
        <ul role="listbox" aria-label="Roles">
          {roles.map((role) => (
            <li
              key={role.id}
              role="option"
              aria-selected={role.id === selected?.id}
              tabIndex={0}
              className={role.id === selected?.id ? 'active' : undefined}
              data-testid="role-item"
              data-role-id={role.id}
              data-everyone={role.isEveryone ? 'true' : undefined}
              onClick={() => setSelectedId(role.id)}
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), setSelectedId(role.id))}
            >
              <span className="role-dot" style={{ background: roleColour(role) ?? '#99aab5' }} aria-hidden="true" />
              {role.isEveryone ? '@everyone' : role.name}
            </li>
          ))}
        </ul>
      </div>
      {selected && <RoleEditor key={selected.id} serverId={serverId} role={selected} editable={selected.isEveryone ? rank > 0 : selected.position < rank} />}
    </section>
  );
}

function RoleEditor({ serverId, role, editable }: { serverId: string; role: Role; editable: boolean }) {
  const { store } = useServices();
  const [name, setName] = useState(role.name);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mine = store.permissions(serverId);

  const change = async (update: { name?: string; colour?: number; permissions?: number }) => {
    setBusy(true);
    setError(null);
    try {
      await store.updateRole(serverId, role.id, update);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="role-editor" data-testid="role-editor" data-role-id={role.id}>
      <h3>Edit role — {role.isEveryone ? '@everyone' : role.name}</h3>
      {!editable && <p className="muted small">Only roles below your highest role can be edited.</p>}
      {!role.isEveryone && (
        <>
          <label>
            Role name
            <input
              data-testid="role-name"
              value={name}
              disabled={!editable}
              onChange={(e) => setName(e.target.value)}
              onBlur={() => name.trim() !== role.name && RoleName.safeParse(name).success && void change({ name: name.trim() })}
            />
          </label>
          <fieldset className="swatches">
            <legend>Role colour</legend>
            {ROLE_COLOURS.map((colour) => (
              <button
                key={colour}
                type="button"
                className={`swatch${role.colour === colour ? ' on' : ''}`}
                style={{ background: colour ? `#${colour.toString(16).padStart(6, '0')}` : '#99aab5' }}
                aria-label={colour ? `Colour #${colour.toString(16).padStart(6, '0')}` : 'Default colour'}
                aria-pressed={role.colour === colour}
                disabled={!editable || busy}
                onClick={() => void change({ colour })}
              />
            ))}
          </fieldset>
        </>
      )}
      <ErrorText error={error} />
      {PERMISSION_GROUPS.map((group) => (
        <section key={group.title} className="perm-group">
          <h4>{group.title} permissions</h4>
          <ul role="list">
            {group.permissions.map((info) => {
              const bit = Permission[info.name];
              const on = has(role.permissions, bit);
              // Only permissions we hold ourselves can be given or taken.
              const allowed = editable && canGrant(mine, bit);
              return (
                <li key={info.name} className="perm-row">
                  <span>
                    <span className="perm-label" id={`perm-${role.id}-${info.name}`}>
                      {info.label}
                    </span>
                    <span className="muted small block">{info.description}</span>
                  </span>
                  <button
                    role="switch"
                    className="switch"
                    aria-checked={on}
                    aria-labelledby={`perm-${role.id}-${info.name}`}
                    data-testid="permission-toggle"
                    data-permission={info.name}
                    disabled={!allowed || busy}
                    onClick={() => void change({ permissions: on ? role.permissions & ~bit : role.permissions | bit })}
                  >
                    <span className="switch-knob" aria-hidden="true" />
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
      {!role.isEveryone && editable && (
        <div className="danger-zone">
          <button className="danger-outline" data-testid="role-delete" disabled={busy} onClick={() => void store.deleteRole(serverId, role.id).catch((e) => setError(describeError(e)))}>
            Delete role
          </button>
        </div>
      )}
    </div>
  );
}

function Members({ serverId }: { serverId: string }) {
  const { store, session } = useServices();
  const guild = useAppState((s) => s.guilds[serverId])!;
  const [selected, setSelected] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const everyone = guild.roles.find((r) => r.isEveryone);
  const me = guild.members[session.user.id];
  const members = Object.values(guild.members)
    .filter((m) => store.displayName(m.user.id, serverId).toLowerCase().includes(filter.toLowerCase()))
    .sort((a, b) => store.displayName(a.user.id, serverId).localeCompare(store.displayName(b.user.id, serverId)));
  return (
    <section>
      <h3>Members — {Object.keys(guild.members).length}</h3>
      <input className="search" aria-label="Search members" placeholder="Search members" value={filter} onChange={(e) => setFilter(e.target.value)} />
      <ul className="member-table" role="list">
        {members.map((member) => {
          const id = member.user.id;
          const outranks =
            !!me && !!everyone && id !== session.user.id && canManageMember({ ownerId: guild.server.ownerId, everyoneRoleId: everyone.id, roles: guild.roles, userId: me.user.id, memberRoleIds: me.roleIds }, { userId: id, memberRoleIds: member.roleIds });
          return (
            <li key={id} className="member-row" data-testid="settings-member" data-user-id={id}>
              <Avatar id={id} name={store.displayName(id, serverId)} size={32} />
              <span className="grow">
                <span className="block">{store.displayName(id, serverId)}</span>
                <span className="muted small">{rolesOf(member, guild.roles).map((r) => r.name).join(', ') || 'No roles'}</span>
              </span>
              <button className="small-button" disabled={!outranks && !store.can(serverId, Permission.MANAGE_ROLES)} onClick={() => setSelected(id)}>
                Manage
              </button>
            </li>
          );
        })}
      </ul>
      {selected && guild.members[selected] && <MemberDialog serverId={serverId} member={guild.members[selected]} onClose={() => setSelected(null)} />}
    </section>
  );
}

function Invites({ serverId }: { serverId: string }) {
  const { store } = useServices();
  const [invites, setInvites] = useState<Invite[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    store.api.invites(serverId).then(setInvites, (e) => setError(describeError(e)));
  }, [store, serverId]);
  return (
    <section>
      <h3>Invites</h3>
      <ErrorText error={error} />
      {invites?.length === 0 && <p className="muted">No invites yet.</p>}
      <ul className="member-table" role="list">
        {(invites ?? []).map((invite) => (
          <li key={invite.code} className="member-row" data-testid="settings-invite">
            <span className="grow">
              <code>{inviteLink(invite.code)}</code>
              <span className="muted small block">
                {invite.uses}
                {invite.maxUses ? ` / ${invite.maxUses}` : ''} uses · {invite.expiresAt ? `expires ${new Date(invite.expiresAt).toLocaleString()}` : 'never expires'}
              </span>
            </span>
            <button
              className="danger-outline small-button"
              onClick={() =>
                void store.api.deleteInvite(invite.code).then(
                  () => setInvites((list) => (list ?? []).filter((i) => i.code !== invite.code)),
                  (e) => setError(describeError(e)),
                )
              }
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
