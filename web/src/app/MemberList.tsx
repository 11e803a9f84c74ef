import { useState } from 'react';
import { Permission, canManageMember, computePermissions, has } from '@concord/protocol';
import type { Member, PresenceStatus, Role } from '@concord/protocol';
import { Avatar } from '../ui/Avatar';
import { Modal } from '../ui/Modal';
import { ErrorText } from '../ui/Modal';
import { describeError } from '../describe-error';
import { useAppState, useServices, useVoice } from './context';

export const roleColour = (role: Role | undefined): string | undefined =>
  role && role.colour ? `#${role.colour.toString(16).padStart(6, '0')}` : undefined;

/** The member's roles, highest first. */
export function rolesOf(member: Member, roles: readonly Role[]): Role[] {
  return roles.filter((role) => !role.isEveryone && member.roleIds.includes(role.id)).sort((a, b) => b.position - a.position);
}

/**
 * The members, grouped as Discord does: online members under their highest role, then the other
 * online members, then everyone offline. Who is speaking in our call is marked.
 */
export function MemberList({ serverId, channelId }: { serverId: string; channelId: string | null }) {
  const { store } = useServices();
  const guild = useAppState((s) => s.guilds[serverId]);
  const presence = useAppState((s) => s.presence);
  const { call, serverId: callServerId } = useVoice();
  const [selected, setSelected] = useState<string | null>(null);
  if (!guild) return null;

  const speaking = new Set(callServerId === serverId ? (call?.participants.filter((p) => p.speaking).map((p) => p.id) ?? []) : []);
  const inCall = new Set(callServerId === serverId ? (call?.participants.map((p) => p.id) ?? []) : []);
  const statusOf = (member: Member): PresenceStatus => presence[member.user.id] ?? member.presence ?? 'offline';
  const members = Object.values(guild.members)
    // In a text channel, only those who can see it (as Discord lists them).
    .filter((member) => !channelId || visibleTo(store, serverId, channelId, member))
    .sort((a, b) => store.displayName(a.user.id, serverId).localeCompare(store.displayName(b.user.id, serverId)));
  const groups = new Map<string, { title: string; members: Member[] }>();
  const roles = [...guild.roles].sort((a, b) => b.position - a.position);
  for (const role of roles) if (!role.isEveryone) groups.set(role.id, { title: role.name, members: [] });
  const online: Member[] = [];
  const offline: Member[] = [];
  for (const member of members) {
    if (statusOf(member) === 'offline') offline.push(member);
    else {
      const top = rolesOf(member, roles)[0];
      (top ? groups.get(top.id)!.members : online).push(member);
    }
  }
  const sections = [...groups.values(), { title: 'Online', members: online }, { title: 'Offline', members: offline }].filter((g) => g.members.length > 0);

  return (
    <aside className="members" aria-label="Members" data-testid="member-list">
      {!guild.loaded && <div className="loading" role="status" aria-label="Loading members" />}
      {sections.map((section) => (
        <section key={section.title} aria-label={section.title}>
          <h2 className="members-title">
            {section.title} — {section.members.length}
          </h2>
          <ul role="list">
            {section.members.map((member) => {
              const id = member.user.id;
              const status = statusOf(member);
              const name = store.displayName(id, serverId);
              const colour = roleColour(rolesOf(member, roles).find((role) => role.colour));
              return (
                <li key={id}>
                  <button
                    className={`member${status === 'offline' ? ' offline' : ''}`}
                    data-testid="member-item"
                    data-user-id={id}
                    data-presence={status}
                    data-speaking={String(speaking.has(id))}
                    aria-label={`${name}, ${status}${speaking.has(id) ? ', speaking' : inCall.has(id) ? ', in voice' : ''}`}
                    onClick={() => setSelected(id)}
                  >
                    <Avatar id={id} name={name} size={32} presence={status} speaking={speaking.has(id)} />
                    <span className="ellipsis" style={colour ? { color: colour } : undefined}>
                      {name}
                    </span>
                    {guild.server.ownerId === id && (
                      <span className="owner-crown" role="img" aria-label="Server owner" title="Server owner">
                        ♛
                      </span>
                    )}
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
      {selected && guild.members[selected] && <MemberDialog serverId={serverId} member={guild.members[selected]} onClose={() => setSelected(null)} />}
    </aside>
  );
}

function visibleTo(store: ReturnType<typeof useServices>['store'], serverId: string, channelId: string, member: Member): boolean {
  const guild = store.guild(serverId);
  const channel = guild?.channels.find((c) => c.id === channelId);
  const everyone = guild?.roles.find((r) => r.isEveryone);
  if (!guild || !channel || !everyone) return true;
  const perms = computePermissions({
    ownerId: guild.server.ownerId,
    everyoneRoleId: everyone.id,
    roles: guild.roles,
    userId: member.user.id,
    memberRoleIds: member.roleIds,
    overwrites: channel.overwrites,
  });
  return has(perms, Permission.VIEW_CHANNEL);
}

/** A member's profile: roles (editable with MANAGE_ROLES), kick and ban for those allowed. */
export function MemberDialog({ serverId, member, onClose }: { serverId: string; member: Member; onClose: () => void }) {
  const { store, session } = useServices();
  const guild = useAppState((s) => s.guilds[serverId])!;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = member.user.id;
  const name = store.displayName(id, serverId);
  const perms = store.permissions(serverId);
  const everyone = guild.roles.find((r) => r.isEveryone);
  const me = guild.members[session.user.id];
  const actor = me && everyone ? { ownerId: guild.server.ownerId, everyoneRoleId: everyone.id, roles: guild.roles, userId: me.user.id, memberRoleIds: me.roleIds } : null;
  const outranks = !!actor && id !== session.user.id && canManageMember(actor, { userId: id, memberRoleIds: member.roleIds });
  const myTop = actor ? Math.max(0, ...guild.roles.filter((r) => me!.roleIds.includes(r.id)).map((r) => r.position)) : 0;
  const isOwner = guild.server.ownerId === session.user.id;
  const canAssign = (role: Role) => has(perms, Permission.MANAGE_ROLES) && !role.isEveryone && (isOwner || role.position < myTop);

  const run = async (action: () => Promise<void>, close = false) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      if (close) onClose();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const roles = [...guild.roles].filter((r) => !r.isEveryone).sort((a, b) => b.position - a.position);
  return (
    <Modal title={name} onClose={onClose} testId="member-dialog">
      <div className="member-profile">
        <Avatar id={id} name={name} size={64} />
        <div>
          <p className="profile-name">{name}</p>
          <p className="muted small">{member.user.username ?? ''}</p>
        </div>
      </div>
      <h3 className="section-title">Roles</h3>
      <ul className="role-chips" role="list">
        {roles.map((role) => {
          const on = member.roleIds.includes(role.id);
          if (!on && !canAssign(role)) return null;
          return (
            <li key={role.id}>
              <label className={`chip${on ? ' on' : ''}`}>
                <input
                  type="checkbox"
                  checked={on}
                  disabled={busy || !canAssign(role)}
                  data-testid="member-role-toggle"
                  data-role-id={role.id}
                  onChange={(e) => void run(() => store.setMemberRole(serverId, id, role.id, e.target.checked))}
                />
                <span className="role-dot" style={{ background: roleColour(role) ?? '#99aab5' }} aria-hidden="true" />
                {role.name}
              </label>
            </li>
          );
        })}
        {member.roleIds.length === 0 && !roles.some(canAssign) && <li className="muted">No roles</li>}
      </ul>
      <ErrorText error={error} />
      {outranks && (has(perms, Permission.KICK_MEMBERS) || has(perms, Permission.BAN_MEMBERS)) && (
        <div className="row end">
          {has(perms, Permission.KICK_MEMBERS) && (
            <button className="danger-outline" data-testid="member-kick" disabled={busy} onClick={() => void run(() => store.kick(serverId, id), true)}>
              Kick {name}
            </button>
          )}
          {has(perms, Permission.BAN_MEMBERS) && (
            <button className="danger" data-testid="member-ban" disabled={busy} onClick={() => void run(() => store.ban(serverId, id), true)}>
              Ban {name}
            </button>
          )}
        </div>
      )}
    </Modal>
  );
}
