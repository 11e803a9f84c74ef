import { useState } from 'react';
import type { FormEvent } from 'react';
import { UserName } from '@concord/protocol';
import type { SessionResponse } from '@concord/protocol';
import { describeError } from '../describe-error';
import { signIn, signUp } from './api';

type Mode = 'signin' | 'signup';

/** Checks what the server would refuse anyway, to say it in plainer words. */
function validate(mode: Mode, username: string, password: string): string | null {
  if (!UserName.safeParse(username).success) return 'User names are 2 to 32 letters, digits, dots, dashes or underscores.';
  if (mode === 'signup' && password.length < 8) return 'Choose a password of at least 8 characters.';
  if (!password) return 'Enter your password.';
  return null;
}

export function AuthForm({ onSignedIn }: { onSignedIn: (session: SessionResponse) => void }) {
  const [mode, setMode] = useState<Mode>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const invalid = validate(mode, username, password);
    setError(invalid);
    if (invalid) return;
    setBusy(true);
    try {
      const name = displayName.trim();
      onSignedIn(
        mode === 'signin'
          ? await signIn({ username, password })
          : await signUp({ username, password, ...(name ? { displayName: name } : {}) }),
      );
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  }

  const signingUp = mode === 'signup';
  return (
    <main className="auth">
      <form className="card" onSubmit={submit} noValidate>
        <h1>Concord</h1>
        <p className="muted">{signingUp ? 'Create an account' : 'Welcome back'}</p>
        <label>
          User name
          <input data-testid="auth-email" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        {signingUp && (
          <label>
            Display name <span className="muted">(optional)</span>
            <input data-testid="auth-display-name" autoComplete="nickname" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
        )}
        <label>
          Password
          <input
            data-testid="auth-password"
            type="password"
            autoComplete={signingUp ? 'new-password' : 'current-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button className="primary" data-testid="auth-submit" type="submit" disabled={busy}>
          {signingUp ? 'Sign up' : 'Sign in'}
        </button>
        <button
          className="link"
          data-testid="auth-mode"
          type="button"
          onClick={() => {
            setMode(signingUp ? 'signin' : 'signup');
            setError(null);
          }}
        >
          {signingUp ? 'Already have an account? Sign in' : 'Need an account? Sign up'}
        </button>
      </form>
    </main>
  );
}
