import { useState } from 'react';
import { ChannelName, Permission, canGrant, has } from '@concord/protocol';
import type { ChannelView, PermissionOverwrite } from '@concord/protocol';
import { useAppState, useServices } from '../app/context';
import { useSubmit } from '../app/Dialogs';
import { describeError } from '../describe-error';
import { ErrorText, Modal } from '../ui/Modal';
import { ChevronDown, ChevronUp } from '../ui/icons';
import { PERMISSION_GROUPS } from './permission-info';

type Tab = 'overview' | 'permissions';

/** Channel settings: name, topic, order and deletion (MANAGE_CHANNELS); permission overwrites (MANAGE_ROLES). */
export function ChannelSettings({ channelId, initialTab, onClose }: { channelId: string; initialTab: Tab; onClose: () => void }) {
  const { store } = useServices();
  const channel = useAppState(() => store.channel(channelId));
  if (!channel) return null;
  const canManage = store.can(channel.serverId, Permission.MANAGE_CHANNELS, channel.id);
  const canRoles = store.can(channel.serverId, Permission.MANAGE_ROLES, channel.id);
  const tabs = [
    { id: 'overview' as const, label: 'Overview', allowed: canManage },
    { id: 'permissions' as const, label: 'Permissions', allowed: canRoles },
  ].filter((t) => t.allowed);
  return <ChannelSettingsBody channel={channel} tabs={tabs} initialTab={tabs.some((t) => t.id === initialTab) ? initialTab : (tabs[0]?.id ?? 'overview')} onClose={onClose} />;
}

function ChannelSettingsBody({
  channel,
  tabs,
  initialTab,
  onClose,
}: {
  channel: ChannelView;
  tabs: { id: Tab; label: string }[];
  initialTab: Tab;
  onClose: () => void;
}) {
  const [tab, setTab] = useState<Tab>(initialTab);
  const title = channel.kind === 'category' ? channel.name : `${channel.kind === 'text' ? '#' : ''}${channel.name}`;
  return (
    <Modal title={`${title} — settings`} onClose={onClose} wide testId="channel-settings-dialog">
      <div className="settings">
        <nav className="settings-nav" aria-label="Settings sections">
          <div role="tablist" aria-orientation="vertical">
            {tabs.map((t) => (
              <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : undefined} data-testid={`channel-tab-${t.id}`} onClick={() => setTab(t.id)}>
                {t.label}
              </button>
            ))}
          </div>
        </nav>
        <div className="settings-content" role="tabpanel">
          {tab === 'overview' && <Overview channel={channel} onClose={onClose} />}
          {tab === 'permissions' && <Overwrites channel={channel} />}
        </div>
      </div>
    </Modal>
  );
}

function Overview({ channel, onClose }: { channel: ChannelView; onClose: () => void }) {
  const { store, openDialog } = useServices();
  const [name, setName] = useState(channel.name);
  const [topic, setTopic] = useState(channel.topic ?? '');
  const [saved, setSaved] = useState(false);
  const [moveError, setMoveError] = useState<string | null>(null);
  const { error, setError, busy, submit } = useSubmit(async () => {
    const finalName = channel.kind === 'text' ? name.trim().toLowerCase().replace(/\s+/g, '-') : name.trim();
    if (!ChannelName.safeParse(finalName).success) return setError('Channel names are 1 to 100 characters on one line.');
    await store.updateChannel(channel.id, { name: finalName, ...(channel.kind !== 'category' && { topic: topic.trim() || null }) });
    setName(finalName);
    setSaved(true);
  });
  const move = (direction: -1 | 1) => {
    setMoveError(null);
    store.moveChannel(channel.id, direction).catch((e) => setMoveError(describeError(e)));
  };
  return (
    <section>
      <h3>Overview</h3>
      <form className="form" onSubmit={submit} noValidate>
        <label>
          {channel.kind === 'category' ? 'Category name' : 'Channel name'}
          <input data-testid="channel-rename" value={name} onChange={(e) => (setName(e.target.value), setSaved(false))} />
        </label>
        {channel.kind !== 'category' && (
          <label>
            Channel topic
            <textarea data-testid="channel-topic" value={topic} maxLength={1024} rows={3} onChange={(e) => (setTopic(e.target.value), setSaved(false))} placeholder="Let everyone know what this channel is for" />
          </label>
        )}
        <ErrorText error={error} />
        <div className="row">
          <button className="primary" data-testid="channel-save" disabled={busy}>
            Save changes
          </button>
          {saved && (
            <span className="muted small" role="status">
              Saved.
            </span>
          )}
        </div>
      </form>
      <h4>Order</h4>
      <div className="row">
        <button data-testid="channel-move-up" onClick={() => move(-1)}>
          <ChevronUp size={16} /> Move up
        </button>
        <button data-testid="channel-move-down" onClick={() => move(1)}>
          <ChevronDown size={16} /> Move down
        </button>
      </div>
      <ErrorText error={moveError} />
      <div className="danger-zone">
        <button
          className="danger"
          data-testid="channel-delete"
          onClick={() => {
            onClose();
            openDialog({
              kind: 'confirm',
              title: `Delete ${channel.name}`,
              text: `Delete ${channel.kind === 'category' ? 'the category' : 'the channel'} ${channel.name}${channel.kind === 'text' ? ' and all its messages' : ''}? This cannot be undone.`,
              action: 'Delete',
              run: () => store.deleteChannel(channel.id),
            });
          }}
        >
          Delete {channel.kind === 'category' ? 'category' : 'channel'}
        </button>
      </div>
    </section>
  );
}

type State = 'allow' | 'inherit' | 'deny';

/** Per-role and per-member allow/deny for this channel, over what their server roles give. */
function Overwrites({ channel }: { channel: ChannelView }) {
  const { store } = useServices();
  const guild = useAppState((s) => s.guilds[channel.serverId])!;
  const everyone = guild.roles.find((r) => r.isEveryone);
  const [targetKey, setTargetKey] = useState<string>(everyone ? `role:${everyone.id}` : '');
  const [adding, setAdding] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mine = store.permissions(channel.serverId, channel.id);

  const targets: { key: string; type: 'role' | 'member'; id: string; label: string; colour?: string }[] = [];
  for (const o of channel.overwrites) {
    const label = o.targetType === 'role' ? roleLabel(guild.roles.find((r) => r.id === o.targetId)) : store.displayName(o.targetId, channel.serverId);
    targets.push({ key: `${o.targetType}:${o.targetId}`, type: o.targetType, id: o.targetId, label });
  }
  if (everyone && !targets.some((t) => t.id === everyone.id)) targets.unshift({ key: `role:${everyone.id}`, type: 'role', id: everyone.id, label: '@everyone' });
  const [type, id] = targetKey.split(':') as ['role' | 'member', string];
  if (targetKey && !targets.some((t) => t.key === targetKey)) {
    const label = type === 'role' ? roleLabel(guild.roles.find((r) => r.id === id)) : store.displayName(id, channel.serverId);
    targets.push({ key: targetKey, type, id, label });
  }
  const current: PermissionOverwrite = channel.overwrites.find((o) => o.targetType === type && o.targetId === id) ?? { targetType: type, targetId: id, allow: 0, deny: 0 };

  const candidates = [
    ...guild.roles.filter((r) => !targets.some((t) => t.id === r.id)).map((r) => ({ key: `role:${r.id}`, label: `Role: ${roleLabel(r)}` })),
    ...Object.values(guild.members)
      .filter((m) => !targets.some((t) => t.id === m.user.id))
      .map((m) => ({ key: `member:${m.user.id}`, label: `Member: ${store.displayName(m.user.id, channel.serverId)}` })),
  ];

  const set = async (bit: number, state: State) => {
    const allow = state === 'allow' ? current.allow | bit : current.allow & ~bit;
    const deny = state === 'deny' ? current.deny | bit : current.deny & ~bit;
    setBusy(true);
    setError(null);
    try {
      await store.setOverwrite(channel.id, type, id, allow, deny);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  // Voice permissions mean nothing in a text channel, and text ones nothing in a voice channel.
  const groups = PERMISSION_GROUPS.filter((g) => g.channel && !(channel.kind === 'text' && g.title === 'Voice') && !(channel.kind === 'voice' && g.title === 'Text'));

  return (
    <section className="overwrites">
      <h3>Channel permissions</h3>
      <p className="muted small">Allow or deny permissions in this channel for a role or a member, over what their roles give them on the server.</p>
      <div className="overwrites-grid">
        <div className="roles-list">
          <ul role="listbox" aria-label="Roles and members with channel permissions">
            {targets.map((t) => (
              <li
                key={t.key}
                role="option"
                tabIndex={0}
                aria-selected={t.key === targetKey}
                className={t.key === targetKey ? 'active' : undefined}
                data-testid="overwrite-target"
                data-target-id={t.id}
                onClick={() => setTargetKey(t.key)}
                onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), setTargetKey(t.key))}
              >
                {t.type === 'member' ? '👤 ' : ''}
                {t.label}
              </li>
            ))}
          </ul>
          {candidates.length > 0 && (
            <label>
              Add a role or member
              <select
                data-testid="overwrite-add"
                value={adding}
                onChange={(e) => {
                  setAdding('');
                  if (e.target.value) setTargetKey(e.target.value);
                }}
              >
                <option value="">Choose…</option>
                {candidates.map((c) => (
                  <option key={c.key} value={c.key}>
                    {c.label}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
        <div>
          <ErrorText error={error} />
          {groups.map((group) => (
            <section key={group.title} className="perm-group">
              <h4>{group.title} permissions</h4>
              <ul role="list">
                {group.permissions.map((info) => {
                  const bit = Permission[info.name];
                  const state: State = has(current.allow, bit) ? 'allow' : has(current.deny, bit) ? 'deny' : 'inherit';
                  const allowed = canGrant(mine, bit) && !busy;
                  return (
                    <li key={info.name} className="perm-row">
                      <span>
                        <span className="perm-label">{info.label}</span>
                        <span className="muted small block">{info.description}</span>
                      </span>
                      <span className="tristate" role="radiogroup" aria-label={info.label}>
                        {(['deny', 'inherit', 'allow'] as const).map((value) => (
                          <button
                            key={value}
                            role="radio"
                            aria-checked={state === value}
                            aria-label={`${value === 'inherit' ? 'Inherit' : value === 'allow' ? 'Allow' : 'Deny'} ${info.label}`}
                            title={value === 'inherit' ? 'Inherit from roles' : value === 'allow' ? 'Allow' : 'Deny'}
                            className={`tri ${value}${state === value ? ' on' : ''}`}
                            data-testid="overwrite-state"
                            data-permission={info.name}
                            data-value={value}
                            disabled={!allowed}
                            onClick={() => state !== value && void set(bit, value)}
                          >
                            {value === 'allow' ? '✓' : value === 'deny' ? '✕' : '/'}
                          </button>
                        ))}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </section>
          ))}
        </div>
      </div>
    </section>
  );
}

const roleLabel = (role: { name: string; isEveryone: boolean } | undefined) => (!role ? 'Unknown role' : role.isEveryone ? '@everyone' : role.name);
