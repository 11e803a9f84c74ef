import { useEffect, useRef, useState } from 'react';
import { SecondFactorCode, TotpCode } from '@concord/protocol';
import type { SecondFactorProof, TotpSetupResponse, TwoFactorStatus } from '@concord/protocol';
import { useServices } from '../app/context';
import { useSubmit } from '../app/Dialogs';
import { assertPasskey, createPasskey, describePasskeyError } from '../auth/passkey';
import { describeError } from '../describe-error';
import { ErrorText } from '../ui/Modal';

/**
 * Two-factor sign-in in the user settings: set up an authenticator app (QR code and secret, then
 * its first code), add passkeys, see the recovery codes once, and turn it all off with a fresh
 * code or passkey.
 */
export function TwoFactorSettings() {
  const { store } = useServices();
  const api = store.api;
  const [status, setStatus] = useState<TwoFactorStatus | null>(null);
  const [setup, setSetup] = useState<TotpSetupResponse | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[]>([]);
  const [code, setCode] = useState('');
  const [loadError, setLoadError] = useState<string | null>(null);

  const reload = async () => setStatus(await api.twoFactorStatus());
  useEffect(() => {
    api.twoFactorStatus().then(setStatus, (e) => setLoadError(describeError(e)));
  }, [api]);

  const showCodes = (codes: string[]) => {
    if (codes.length > 0) setRecoveryCodes(codes);
  };

  const { error, setError, busy, submit } = useSubmit(async () => {
    if (setup) {
      if (!TotpCode.safeParse(code).success) return setError('Enter the 6-digit code your authenticator app shows.');
      showCodes((await api.confirmTotp(code.trim())).recoveryCodes);
      setSetup(null);
    } else {
      if (!SecondFactorCode.safeParse(code).success) return setError('Enter a code from your authenticator app, or a recovery code.');
      await turnOff({ code: code.trim() });
    }
    setCode('');
    await reload();
  });

  async function turnOff(proof: SecondFactorProof) {
    await api.disableTwoFactor(proof);
    setRecoveryCodes([]);
  }

  const [passkeyError, setPasskeyError] = useState<string | null>(null);
  const [passkeyBusy, setPasskeyBusy] = useState(false);
  /** Runs a passkey step, saying WebAuthn's failures (cancelled, timed out) in plain words. */
  async function withPasskey(step: () => Promise<void>) {
    setPasskeyError(null);
    setPasskeyBusy(true);
    try {
      await step();
      await reload();
    } catch (e) {
      setPasskeyError(describePasskeyError(e) ?? describeError(e));
    } finally {
      setPasskeyBusy(false);
    }
  }

  if (!status) {
    return (
      <section data-testid="settings-2fa">
        <h4>Two-factor sign-in</h4>
        {loadError ? <ErrorText error={loadError} /> : <p className="muted small">Loading…</p>}
      </section>
    );
  }

  return (
    <section className="form" data-testid="settings-2fa" data-enabled={status.enabled ? 'true' : 'false'}>
      <h4>Two-factor sign-in</h4>
      <p className="muted small">
        {status.enabled
          ? `On: signing in asks for ${[status.totp && 'a code from your authenticator app', status.passkeys.length > 0 && 'a passkey'].filter(Boolean).join(' or ')} after your password. Recovery codes left: ${status.recoveryCodesLeft}.`
          : 'Off: your password alone signs you in. Add an authenticator app or a passkey so that a stolen password is not enough.'}
      </p>

      {!status.totp && !setup && (
        <button type="button" data-testid="totp-setup" disabled={busy} onClick={() => void api.beginTotp().then(setSetup, (e) => setError(describeError(e)))}>
          Set up an authenticator app
        </button>
      )}
      {setup && <TotpEnrolment setup={setup} />}

      {(setup || status.enabled) && (
        <form className="row wrap" onSubmit={submit} noValidate>
          <label className="grow">
            {setup ? 'Code from the app' : 'Code (app or recovery) to turn two-factor sign-in off'}
            <input data-testid="totp-code" inputMode="numeric" autoComplete="one-time-code" spellCheck={false} value={code} onChange={(e) => setCode(e.target.value)} />
          </label>
          <button className={setup ? 'primary' : 'danger'} data-testid="totp-confirm" disabled={busy || !code.trim()}>
            {setup ? 'Turn on' : 'Turn off'}
          </button>
        </form>
      )}
      <ErrorText error={error} />

      {recoveryCodes.length > 0 && (
        <div>
          <p className="small">Recovery codes: each signs you in once if you lose your app or passkey. Keep them somewhere safe; they are not shown again.</p>
          <ul className="recovery-codes" data-testid="recovery-codes">
            {recoveryCodes.map((recovery) => (
              <li key={recovery} data-code={recovery}>
                <code>{recovery}</code>
              </li>
            ))}
          </ul>
        </div>
      )}

      <h4>Passkeys</h4>
      <ul className="passkeys">
        {status.passkeys.map((passkey) => (
          <li key={passkey.id} data-testid="passkey-item" data-passkey-id={passkey.id}>
            {passkey.name} <span className="muted small">added {new Date(passkey.createdAt).toLocaleDateString()}</span>
          </li>
        ))}
      </ul>
      <div className="row wrap">
        <button
          type="button"
          data-testid="passkey-add"
          disabled={passkeyBusy}
          onClick={() => void withPasskey(async () => showCodes((await api.registerPasskey(passkeyName(), await createPasskey(await api.passkeyRegistrationOptions()))).recoveryCodes))}
        >
          Add a passkey
        </button>
        {status.passkeys.length > 0 && (
          <button type="button" className="danger" data-testid="2fa-disable-passkey" disabled={passkeyBusy} onClick={() => void withPasskey(async () => turnOff({ passkey: await assertPasskey(await api.passkeyAssertionOptions()) }))}>
            Turn off with a passkey
          </button>
        )}
      </div>
      <ErrorText error={passkeyError} />
    </section>
  );
}

/** A passkey's name in the list: the browser and system it was made on. */
function passkeyName(): string {
  const platform = (navigator as { userAgentData?: { platform?: string } }).userAgentData?.platform || navigator.platform || 'this device';
  return `Passkey on ${platform}`.slice(0, 64);
}

/** The QR code of the otpauth:// URI for the app to scan, and the secret to type in instead. */
function TotpEnrolment({ setup }: { setup: TotpSetupResponse }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let live = true;
    void import('qrcode').then(async (qr) => {
      if (live && canvas.current) await qr.toCanvas(canvas.current, setup.uri, { margin: 1, width: 192 });
    });
    return () => {
      live = false;
    };
  }, [setup.uri]);
  return (
    <div className="totp-enrolment">
      <p className="small">Scan this with your authenticator app, then enter the code it shows.</p>
      <canvas ref={canvas} data-testid="totp-qr" data-uri={setup.uri} aria-label="QR code for your authenticator app" />
      <p className="small">
        Or type this key into the app: <code data-testid="totp-secret" data-secret={setup.secret}>{setup.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
      </p>
    </div>
  );
}
