import { useState } from 'react';
import type { FormEvent } from 'react';
import { SecondFactorCode } from '@concord/protocol';
import type { SecondFactorChallenge, SessionResponse } from '@concord/protocol';
import { describeError } from '../describe-error';
import { passkeySignInOptions, verifyPasskey, verifySecondFactor } from './api';
import { assertPasskey, describePasskeyError } from './passkey';

type Challenge = SecondFactorChallenge['secondFactor'];

/**
 * The second step of signing in to an account with two-factor sign-in: the code from the
 * authenticator app (or a recovery code), or a passkey. The password step's challenge says who.
 */
export function SecondFactorForm({ challenge, onSession, onCancel }: { challenge: Challenge; onSession: (session: SessionResponse) => void; onCancel: () => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function attempt(step: () => Promise<SessionResponse>) {
    setBusy(true);
    setError(null);
    try {
      onSession(await step());
    } catch (e) {
      setError(describePasskeyError(e) ?? describeError(e));
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!SecondFactorCode.safeParse(code).success) return setError('Enter the 6-digit code from your authenticator app, or a recovery code.');
    void attempt(() => verifySecondFactor(challenge.challenge, code.trim()));
  }

  const passkey = challenge.methods.includes('passkey');
  return (
    <form className="card auth-card" onSubmit={submit} noValidate aria-busy={busy}>
      <h1>Two-factor sign-in</h1>
      <p className="muted">
        {challenge.methods.includes('totp') ? 'Enter the code from your authenticator app, or one of your recovery codes.' : 'Use your passkey, or enter one of your recovery codes.'}
      </p>
      <label>
        Code
        <input
          data-testid="auth-totp"
          inputMode="text"
          autoComplete="one-time-code"
          spellCheck={false}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoFocus
          required
        />
      </label>
      {error && (
        <p className="error" role="alert" data-testid="auth-error">
          {error}
        </p>
      )}
      <button className="primary big" data-testid="auth-submit" type="submit" disabled={busy}>
        {busy ? 'One moment…' : 'Sign in'}
      </button>
      {passkey && (
        <button
          type="button"
          data-testid="auth-passkey"
          disabled={busy}
          onClick={() => void attempt(async () => verifyPasskey(challenge.challenge, await assertPasskey(await passkeySignInOptions(challenge.challenge))))}
        >
          Use a passkey
        </button>
      )}
      <p className="auth-switch">
        <button className="link" type="button" onClick={onCancel}>
          Back
        </button>
      </p>
    </form>
  );
}
