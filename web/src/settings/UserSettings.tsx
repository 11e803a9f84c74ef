import { useEffect, useRef, useState } from 'react';
import { ChangePasswordRequest, DisplayName } from '@concord/protocol';
import { useAppState, useServices, useVoice } from '../app/context';
import { useSubmit } from '../app/Dialogs';
import { describeError } from '../describe-error';
import { ErrorText, Modal } from '../ui/Modal';
import { keyName } from '../voice/push-to-talk';
import { TwoFactorSettings } from './TwoFactorSettings';

type Tab = 'account' | 'voice';

/** The user's own settings: account (name, sign out) and voice and video (devices, push-to-talk). */
export function UserSettings({ onClose }: { onClose: () => void }) {
  const [tab, setTab] = useState<Tab>('voice');
  return (
    <Modal title="User settings" onClose={onClose} wide testId="user-settings-dialog">
      <div className="settings">
        <nav className="settings-nav" aria-label="Settings sections">
          <div role="tablist" aria-orientation="vertical">
            <button role="tab" aria-selected={tab === 'account'} className={tab === 'account' ? 'active' : undefined} onClick={() => setTab('account')}>
              My account
            </button>
            <button role="tab" aria-selected={tab === 'voice'} className={tab === 'voice' ? 'active' : undefined} data-testid="settings-tab-voice" onClick={() => setTab('voice')}>
              Voice &amp; video
            </button>
          </div>
        </nav>
        <div className="settings-content" role="tabpanel">{tab === 'account' ? <Account /> : <VoiceVideo />}</div>
      </div>
    </Modal>
  );
}

function Account() {
  const { store, signOut } = useServices();
  const me = useAppState((s) => s.me);
  const [name, setName] = useState(me.displayName);
  const [saved, setSaved] = useState(false);
  const { error, setError, busy, submit } = useSubmit(async () => {
    if (!DisplayName.safeParse(name).success) return setError('Display names are 1 to 64 characters on one line.');
    await store.api.updateMe({ displayName: name.trim() });
    setSaved(true);
  });
  return (
    <section>
      <h3>My account</h3>
      <form className="form" onSubmit={submit} noValidate>
        <label>
          Display name
          <input value={name} onChange={(e) => (setName(e.target.value), setSaved(false))} data-testid="display-name" />
        </label>
        <ErrorText error={error} />
        <div className="row">
          <button className="primary" disabled={busy || name.trim() === me.displayName}>
            Save
          </button>
          {saved && (
            <span className="muted small" role="status">
              Saved.
            </span>
          )}
        </div>
      </form>
      <ChangePassword />
      <TwoFactorSettings />
      <div className="danger-zone">
        <SignOutEverywhere />
        <button className="danger" data-testid="sign-out" onClick={signOut}>
          Sign out
        </button>
      </div>
    </section>
  );
}

/** Signing out every other session: this one stays. */
function SignOutEverywhere() {
  const { store } = useServices();
  const [done, setDone] = useState<number | null>(null);
  const { error, busy, submit } = useSubmit(async () => setDone((await store.api.signOutEverywhere()).revoked));
  return (
    <div className="row wrap">
      <button className="danger" data-testid="sessions-revoke-all" disabled={busy} onClick={() => void submit()}>
        Sign out everywhere else
      </button>
      {done !== null && (
        <span className="muted small" role="status" data-testid="sessions-revoked">
          {done === 1 ? 'Signed out 1 other session.' : `Signed out ${done} other sessions.`}
        </span>
      )}
      <ErrorText error={error} />
    </div>
  );
}

/** A new password needs the current one; every other session is signed out by the change. */
function ChangePassword() {
  const { store } = useServices();
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const [changed, setChanged] = useState(false);
  const { error, setError, busy, submit } = useSubmit(async () => {
    if (!ChangePasswordRequest.safeParse({ currentPassword, newPassword }).success) return setError('The new password needs at least 8 characters.');
    await store.api.changePassword({ currentPassword, newPassword });
    setCurrent('');
    setNew('');
    setChanged(true);
  });
  return (
    <form className="form" onSubmit={submit} noValidate>
      <h4>Password</h4>
      <label>
        Current password
        <input type="password" autoComplete="current-password" value={currentPassword} onChange={(e) => (setCurrent(e.target.value), setChanged(false))} data-testid="password-current" />
      </label>
      <label>
        New password
        <input type="password" autoComplete="new-password" value={newPassword} onChange={(e) => (setNew(e.target.value), setChanged(false))} data-testid="password-new" />
      </label>
      <ErrorText error={error} />
      <div className="row">
        <button className="primary" disabled={busy || !currentPassword || !newPassword} data-testid="password-change">
          Change password
        </button>
        {changed && (
          <span className="muted small" role="status">
            Password changed; your other sessions are signed out.
          </span>
        )}
      </div>
    </form>
  );
}

function VoiceVideo() {
  const { voice } = useServices();
  const { preferences } = useVoice();
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [capturing, setCapturing] = useState(false);

  useEffect(() => {
    const load = () => navigator.mediaDevices?.enumerateDevices().then(setDevices, (e) => setError(describeError(e)));
    load();
    navigator.mediaDevices?.addEventListener('devicechange', load);
    return () => navigator.mediaDevices?.removeEventListener('devicechange', load);
  }, []);

  // Key capture for push-to-talk: the next key pressed.
  useEffect(() => {
    if (!capturing) return;
    const onKey = (event: KeyboardEvent) => {
      event.preventDefault();
      event.stopPropagation();
      if (event.code !== 'Escape') voice.setPreferences({ pushToTalkKey: event.code });
      setCapturing(false);
    };
    window.addEventListener('keydown', onKey, { capture: true });
    return () => window.removeEventListener('keydown', onKey, { capture: true });
  }, [capturing, voice]);

  const of = (kind: MediaDeviceKind) => devices.filter((d) => d.kind === kind && d.deviceId);
  // Labels are empty until the page has been allowed a capture once.
  const label = (device: MediaDeviceInfo, index: number) => device.label || `${device.kind === 'audioinput' ? 'Microphone' : device.kind === 'videoinput' ? 'Camera' : 'Speaker'} ${index + 1}`;
  const speakerSelectable = 'setSinkId' in HTMLMediaElement.prototype;

  return (
    <section className="form">
      <h3>Voice &amp; video</h3>
      <div className="row wrap">
        <label className="grow">
          Input device
          <select data-testid="device-mic" value={preferences.mic ?? ''} onChange={(e) => voice.setPreferences({ mic: e.target.value || undefined })}>
            <option value="">Default</option>
            {of('audioinput').map((d, i) => (
              <option key={d.deviceId} value={d.deviceId}>
                {label(d, i)}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          Output device
          <select
            data-testid="device-speaker"
            value={preferences.speaker ?? ''}
            disabled={!speakerSelectable}
            onChange={(e) => voice.setPreferences({ speaker: e.target.value || undefined })}
          >
            <option value="">Default</option>
            {of('audiooutput').map((d, i) => (
              <option key={d.deviceId} value={d.deviceId}>
                {label(d, i)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {!speakerSelectable && <p className="muted small">This browser plays sound on its default output only.</p>}
      <label>
        Camera
        <select data-testid="device-camera" value={preferences.camera ?? ''} onChange={(e) => voice.setPreferences({ camera: e.target.value || undefined })}>
          <option value="">Default</option>
          {of('videoinput').map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>
              {label(d, i)}
            </option>
          ))}
        </select>
      </label>
      <CameraPreview deviceId={preferences.camera} />
      <label className="check">
        <input type="checkbox" checked={preferences.camera_on_join} onChange={(e) => voice.setPreferences({ camera_on_join: e.target.checked })} />
        Turn my camera on when I join a voice channel
      </label>
      <label className="check">
        <input type="checkbox" data-testid="relay-only" checked={preferences.relayOnly} onChange={(e) => voice.setPreferences({ relayOnly: e.target.checked })} />
        Send media only through the relay server (hides my IP address; calls fail if the server has no TURN relay)
      </label>
      <h4>Input mode</h4>
      <div className="row wrap" role="radiogroup" aria-label="Input mode">
        <label className="check">
          <input type="radio" name="input-mode" checked={!preferences.pushToTalk} onChange={() => voice.setPreferences({ pushToTalk: false })} data-testid="mode-voice" />
          Voice activity
        </label>
        <label className="check">
          <input type="radio" name="input-mode" checked={preferences.pushToTalk} onChange={() => voice.setPreferences({ pushToTalk: true })} data-testid="mode-ptt" />
          Push to talk
        </label>
      </div>
      {preferences.pushToTalk && (
        <div className="row">
          <span>Shortcut</span>
          <button className="keycap" data-testid="ptt-key" aria-label={`Push-to-talk key: ${keyName(preferences.pushToTalkKey)}. Press to change.`} onClick={() => setCapturing(true)}>
            {capturing ? 'Press a key…' : keyName(preferences.pushToTalkKey)}
          </button>
        </div>
      )}
      <ErrorText error={error} />
    </section>
  );
}

/** What the chosen camera shows, while the settings are open (not while in a call that uses it). */
function CameraPreview({ deviceId }: { deviceId: string | undefined }) {
  const { call } = useVoice();
  const ref = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [on, setOn] = useState(false);
  const busy = !!call && call.media.camera;
  useEffect(() => {
    if (!on || busy) return;
    let stream: MediaStream | null = null;
    let live = true;
    navigator.mediaDevices
      .getUserMedia({ video: deviceId ? { deviceId: { exact: deviceId } } : true })
      .then((s) => {
        if (!live) return s.getTracks().forEach((t) => t.stop());
        stream = s;
        if (ref.current) ref.current.srcObject = s;
      })
      .catch((e) => setError(describeError(e)));
    return () => {
      live = false;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [on, busy, deviceId]);
  if (busy) return null;
  return (
    <div className="camera-preview">
      {on ? <video ref={ref} autoPlay playsInline muted className="mirrored" aria-label="Camera preview" /> : null}
      <button onClick={() => setOn(!on)}>{on ? 'Stop preview' : 'Test video'}</button>
      <ErrorText error={error} />
    </div>
  );
}
