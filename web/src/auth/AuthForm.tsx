import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { isSecondFactorChallenge, UserName } from '@concord/protocol';
import type { SecondFactorChallenge, SessionResponse, SignInResponse } from '@concord/protocol';
import { clientConfig } from '../config';
import type { FirebaseWebConfig } from '../config';
import { describeError } from '../describe-error';
import { firebaseSession, signIn, signUp } from './api';
import { describeFirebaseError, firebaseSignIn, firebaseSignUp } from './firebase';
import { SecondFactorForm } from './SecondFactorForm';
import type { SignInProvider } from './session';
import { Logo } from '../ui/icons';

type Mode = 'signin' | 'signup';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Checks what the server would refuse anyway, to say it in plainer words. */
function validate(mode: Mode, firebase: boolean, name: string, password: string): string | null {
  if (firebase && !EMAIL.test(name)) return 'Enter your email address.';
  if (!firebase && !UserName.safeParse(name).success) return 'User names are 2 to 32 letters, digits, dots, dashes or underscores.';
  if (mode === 'signup' && password.length < 8) return 'Choose a password of at least 8 characters.';
  if (!password) return 'Enter your password.';
  return null;
}

/**
 * Sign in and sign up: with email and password through Firebase when the deployment configures
 * it, with a user name and password against the API otherwise.
 */
export function AuthForm({ onSignedIn }: { onSignedIn: (session: SessionResponse, provider: SignInProvider) => void }) {
  const [mode, setMode] = useState<Mode>(() => (location.pathname.startsWith('/invite/') ? 'signup' : 'signin'));
  const [firebase, setFirebase] = useState<FirebaseWebConfig | null | undefined>(undefined);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Set while the password was right and the account's second factor is asked for. */
  const [pending, setPending] = useState<{ challenge: SecondFactorChallenge['secondFactor']; provider: SignInProvider } | null>(null);

  useEffect(() => {
    let live = true;
    void clientConfig().then((config) => live && setFirebase(config.firebase ?? null));
    return () => {
      live = false;
    };
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (firebase === undefined) return;
    const invalid = validate(mode, !!firebase, name.trim(), password);
    setError(invalid);
    if (invalid) return;
    setBusy(true);
    const display = displayName.trim();
    const answered = (response: SignInResponse, provider: SignInProvider) => {
      if (!isSecondFactorChallenge(response)) return onSignedIn(response, provider);
      setPending({ challenge: response.secondFactor, provider });
      setBusy(false);
    };
    try {
      if (firebase) {
        const idToken =
          mode === 'signin' ? await firebaseSignIn(firebase, name.trim(), password) : await firebaseSignUp(firebase, name.trim(), password, display);
        answered(await firebaseSession(idToken), 'firebase');
      } else {
        const username = name.trim();
        answered(
          mode === 'signin' ? await signIn({ username, password }) : await signUp({ username, password, ...(display ? { displayName: display } : {}) }),
          'local',
        );
      }
    } catch (e) {
      setError(describeFirebaseError(e) ?? describeError(e));
      setBusy(false);
    }
  }

  if (pending) {
    return (
      <main className="auth">
        <SecondFactorForm
          challenge={pending.challenge}
          onSession={(session) => onSignedIn(session, pending.provider)}
          onCancel={() => (setPending(null), setPassword(''))}
        />
      </main>
    );
  }

  const signingUp = mode === 'signup';
  const nameLabel = firebase ? 'Email' : 'User name';
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={submit} noValidate aria-busy={busy}>
        <div className="auth-logo">
          <Logo size={48} />
        </div>
        <h1>{signingUp ? 'Create an account' : 'Welcome back!'}</h1>
        <p className="muted">
          {location.pathname.startsWith('/invite/')
            ? 'You have been invited to a server: sign up or sign in to accept.'
            : signingUp
              ? 'Join your friends on Concord.'
              : 'We’re so excited to see you again!'}
        </p>
        <label>
          {nameLabel}
          <input
            data-testid="auth-email"
            type={firebase ? 'email' : 'text'}
            autoComplete={firebase ? 'email' : 'username'}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoFocus
            required
          />
        </label>
        {signingUp && (
          <label>
            Display name <span className="optional">(optional)</span>
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
            required
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button className="primary big" data-testid="auth-submit" type="submit" disabled={busy || firebase === undefined}>
          {busy ? 'One moment…' : signingUp ? 'Sign up' : 'Sign in'}
        </button>
        <p className="auth-switch">
          {signingUp ? 'Already have an account?' : 'Need an account?'}{' '}
          <button
            className="link"
            data-testid="auth-mode"
            type="button"
            onClick={() => {
              setMode(signingUp ? 'signin' : 'signup');
              setError(null);
            }}
          >
            {signingUp ? 'Sign in' : 'Sign up'}
          </button>
        </p>
      </form>
    </main>
  );
}
