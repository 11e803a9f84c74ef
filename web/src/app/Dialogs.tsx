import { lazy, Suspense, useEffect, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { ChannelName, InviteCode, ServerName } from '@concord/protocol';
import type { Invite, InvitePreview } from '@concord/protocol';
import { describeError } from '../describe-error';
import { channelPath, navigate } from '../router';
import { Loading } from '../ui/Loading';
import { ErrorText, Modal } from '../ui/Modal';
import { Hash, SpeakerIcon } from '../ui/icons';
import { useServices } from './context';
import type { Dialog } from './context';

// The settings dialogs load when first opened: chat does not need them.
const ServerSettings = lazy(() => import('../settings/ServerSettings').then((module) => ({ default: module.ServerSettings })));
const ChannelSettings = lazy(() => import('../settings/ChannelSettings').then((module) => ({ default: module.ChannelSettings })));
const UserSettings = lazy(() => import('../settings/UserSettings').then((module) => ({ default: module.UserSettings })));

export function Dialogs({ dialog, onClose }: { dialog: Dialog; onClose: () => void }) {
  return (
    <Suspense fallback={<Loading label="Loading settings" floating />}>
      <DialogContent dialog={dialog} onClose={onClose} />
    </Suspense>
  );
}

function DialogContent({ dialog, onClose }: { dialog: Dialog; onClose: () => void }) {
  switch (dialog.kind) {
    case 'create-server':
      return <CreateServer onClose={onClose} />;
    case 'join-server':
      return <JoinServer initialCode={dialog.code ?? ''} onClose={onClose} />;
    case 'invite':
      return <InviteDialog serverId={dialog.serverId} onClose={onClose} />;
    case 'create-channel':
      return <CreateChannel serverId={dialog.serverId} kind={dialog.kind_} parentId={dialog.parentId} onClose={onClose} />;
    case 'server-settings':
      return <ServerSettings serverId={dialog.serverId} initialTab={dialog.tab ?? 'overview'} onClose={onClose} />;
    case 'channel-settings':
      return <ChannelSettings channelId={dialog.channelId} initialTab={dialog.tab ?? 'overview'} onClose={onClose} />;
    case 'user-settings':
      return <UserSettings onClose={onClose} />;
    case 'confirm':
      return <Confirm dialog={dialog} onClose={onClose} />;
  }
}

/** A form whose submit runs an action, shows its failure in place and keeps the dialog open until it succeeds. */
export function useSubmit(action: () => Promise<void>) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, submit };
}

function Actions({ children }: { children: ReactNode }) {
  return <div className="modal-actions">{children}</div>;
}

function CreateServer({ onClose }: { onClose: () => void }) {
  const { store, session } = useServices();
  const [name, setName] = useState(`${session.user.displayName}’s server`);
  const { error, setError, busy, submit } = useSubmit(async () => {
    if (!ServerName.safeParse(name).success) return setError('Server names are 1 to 100 characters on one line.');
    const server = await store.createServer(name.trim());
    onClose();
    navigate(channelPath(server.id));
  });
  return (
    <Modal title="Create a server" onClose={onClose} testId="create-server-dialog">
      <form onSubmit={submit} className="form" noValidate>
        <p className="muted">Your server is where you and your friends hang out. Make yours and start talking.</p>
        <label>
          Server name
          <input data-testid="server-name" value={name} onChange={(e) => setName(e.target.value)} autoFocus maxLength={100} required />
        </label>
        <ErrorText error={error} />
        <Actions>
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="primary" data-testid="server-create-submit" disabled={busy}>
            Create
          </button>
        </Actions>
      </form>
    </Modal>
  );
}

/** An invite link or its code alone. */
export function inviteCodeOf(text: string): string {
  const trimmed = text.trim();
  const fromLink = /\/invite\/([A-Za-z0-9_-]+)\/?$/.exec(trimmed);
  return fromLink?.[1] ?? trimmed;
}

function JoinServer({ initialCode, onClose }: { initialCode: string; onClose: () => void }) {
  const { store } = useServices();
  const [code, setCode] = useState(initialCode);
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const parsed = inviteCodeOf(code);

  // What the invite leads to, once a well-formed code is typed.
  useEffect(() => {
    setPreview(null);
    if (!InviteCode.safeParse(parsed).success) return;
    let live = true;
    const timer = setTimeout(() => {
      store.api.previewInvite(parsed).then(
        (p) => live && setPreview(p),
        () => undefined,
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [parsed, store]);

  const { error, setError, busy, submit } = useSubmit(async () => {
    if (!InviteCode.safeParse(parsed).success) return setError('Enter an invite link or code, like https://…/invite/hTKzmak or hTKzmak.');
    const server = await store.joinInvite(parsed);
    onClose();
    navigate(channelPath(server.id));
  });
  return (
    <Modal title="Join a server" onClose={onClose} testId="join-server-dialog">
      <form onSubmit={submit} className="form" noValidate>
        <p className="muted">Enter an invite below to join an existing server.</p>
        <label>
          Invite link
          <input data-testid="invite-join-code" value={code} onChange={(e) => setCode(e.target.value)} autoFocus placeholder="https://…/invite/hTKzmak" required />
        </label>
        {preview && (
          <p className="invite-preview" data-testid="invite-preview">
            You are invited to <strong>{preview.server.name}</strong> · {preview.memberCount} {preview.memberCount === 1 ? 'member' : 'members'}
          </p>
        )}
        <ErrorText error={error} testId="invite-join-error" />
        <Actions>
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="primary" data-testid="invite-join-submit" disabled={busy}>
            Join server
          </button>
        </Actions>
      </form>
    </Modal>
  );
}

const EXPIRY = [
  { label: '30 minutes', seconds: 1_800 },
  { label: '1 hour', seconds: 3_600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 604_800 },
  { label: 'Never', seconds: 0 },
];
const USES = [0, 1, 5, 10, 25, 100];

export const inviteLink = (code: string) => `${location.origin}/invite/${code}`;

function InviteDialog({ serverId, onClose }: { serverId: string; onClose: () => void }) {
  const { store } = useServices();
  const name = store.guild(serverId)?.server.name ?? 'the server';
  const [maxAgeSeconds, setMaxAge] = useState(86_400);
  const [maxUses, setMaxUses] = useState(0);
  const [invite, setInvite] = useState<Invite | null>(null);
  const [copied, setCopied] = useState(false);
  const { error, busy, submit } = useSubmit(async () => {
    setInvite(await store.api.createInvite(serverId, { maxAgeSeconds, maxUses }));
    setCopied(false);
  });
  return (
    <Modal title={`Invite friends to ${name}`} onClose={onClose} testId="invite-dialog">
      <form onSubmit={submit} className="form" noValidate>
        <div className="row">
          <label className="grow">
            Expire after
            <select data-testid="invite-expiry" value={maxAgeSeconds} onChange={(e) => setMaxAge(Number(e.target.value))}>
              {EXPIRY.map((option) => (
                <option key={option.seconds} value={option.seconds}>
                  {option.label}
                </option>
              ))}
            </select>
          </label>
          <label className="grow">
            Max number of uses
            <select data-testid="invite-max-uses" value={maxUses} onChange={(e) => setMaxUses(Number(e.target.value))}>
              {USES.map((uses) => (
                <option key={uses} value={uses}>
                  {uses === 0 ? 'No limit' : `${uses} ${uses === 1 ? 'use' : 'uses'}`}
                </option>
              ))}
            </select>
          </label>
        </div>
        {invite && (
          <div className="invite-result">
            <label>
              Send this link to a friend
              <div className="copy-row">
                <input readOnly value={inviteLink(invite.code)} data-testid="invite-code" data-code={invite.code} onFocus={(e) => e.target.select()} />
                <button
                  type="button"
                  className="primary"
                  onClick={() => {
                    void navigator.clipboard?.writeText(inviteLink(invite.code)).then(() => setCopied(true), () => undefined);
                  }}
                >
                  {copied ? 'Copied' : 'Copy'}
                </button>
              </div>
            </label>
            <p className="muted small">
              {invite.expiresAt ? `Expires ${new Date(invite.expiresAt).toLocaleString()}` : 'Never expires'}
              {invite.maxUses ? `, ${invite.maxUses} ${invite.maxUses === 1 ? 'use' : 'uses'}` : ''}.
            </p>
          </div>
        )}
        <ErrorText error={error} />
        <Actions>
          <button type="button" className="ghost" onClick={onClose}>
            Done
          </button>
          <button className="primary" data-testid="invite-create" disabled={busy}>
            {invite ? 'Make a new link' : 'Create invite link'}
          </button>
        </Actions>
      </form>
    </Modal>
  );
}

function CreateChannel({ serverId, kind: initialKind, parentId, onClose }: { serverId: string; kind: 'text' | 'voice' | 'category'; parentId: string | null; onClose: () => void }) {
  const { store } = useServices();
  const [kind, setKind] = useState(initialKind);
  const [name, setName] = useState('');
  const category = kind === 'category';
  const { error, setError, busy, submit } = useSubmit(async () => {
    // Text channel names are lower-case words joined by dashes, as on Discord.
    const finalName = kind === 'text' ? name.trim().toLowerCase().replace(/\s+/g, '-') : name.trim();
    if (!ChannelName.safeParse(finalName).success) return setError('Channel names are 1 to 100 characters on one line.');
    const channel = await store.createChannel(serverId, finalName, kind, category ? null : parentId);
    onClose();
    if (!category) navigate(channelPath(serverId, channel.id));
  });
  return (
    <Modal title={category ? 'Create a category' : 'Create a channel'} onClose={onClose} testId="create-channel-dialog">
      <form onSubmit={submit} className="form" noValidate>
        {!category && (
          <fieldset className="kind-picker">
            <legend>Channel type</legend>
            {(['text', 'voice'] as const).map((k) => (
              <label key={k} className={`kind-option${kind === k ? ' on' : ''}`}>
                <input type="radio" name="kind" value={k} data-testid="channel-kind" checked={kind === k} onChange={() => setKind(k)} />
                <span className="kind-icon" aria-hidden="true">
                  {k === 'text' ? <Hash /> : <SpeakerIcon />}
                </span>
                <span>
                  <strong>{k === 'text' ? 'Text' : 'Voice'}</strong>
                  <span className="muted small block">{k === 'text' ? 'Send messages, links and emoji' : 'Hang out together with voice, video and screen share'}</span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        <label>
          {category ? 'Category name' : 'Channel name'}
          <input data-testid="channel-name" value={name} onChange={(e) => setName(e.target.value)} autoFocus placeholder={kind === 'voice' ? 'Lounge' : kind === 'text' ? 'new-channel' : 'New category'} required />
        </label>
        <ErrorText error={error} />
        <Actions>
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="primary" data-testid="channel-create-submit" disabled={busy}>
            {category ? 'Create category' : 'Create channel'}
          </button>
        </Actions>
      </form>
    </Modal>
  );
}

function Confirm({ dialog, onClose }: { dialog: Extract<Dialog, { kind: 'confirm' }>; onClose: () => void }) {
  const { error, busy, submit } = useSubmit(async () => {
    await dialog.run();
    onClose();
  });
  return (
    <Modal title={dialog.title} onClose={onClose} testId="confirm-dialog">
      <form onSubmit={submit} className="form">
        <p>{dialog.text}</p>
        <ErrorText error={error} />
        <Actions>
          <button type="button" className="ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="danger" data-testid="confirm-submit" disabled={busy} autoFocus>
            {dialog.action}
          </button>
        </Actions>
      </form>
    </Modal>
  );
}
