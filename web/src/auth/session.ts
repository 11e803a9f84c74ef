import { useCallback, useEffect, useState } from 'react';
import { isSecondFactorChallenge, ProtocolError, SessionResponse } from '@concord/protocol';
import { clientConfig } from '../config';
import { checkSession, firebaseSession, signOutSession } from './api';
import { firebaseIdToken, firebaseSignOut } from './firebase';

const KEY = 'concord.session';

export type SignInProvider = 'local' | 'firebase';

export interface StoredSession {
  session: SessionResponse;
  provider: SignInProvider;
}

function load(): StoredSession | null {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? 'null') as { session?: unknown; provider?: unknown } | null;
    // Sessions stored before the provider was recorded are local ones.
    const parsed = SessionResponse.safeParse(raw?.session ?? raw);
    if (!parsed.success) return null;
    return { session: parsed.data, provider: raw?.provider === 'firebase' ? 'firebase' : 'local' };
  } catch {
    return null;
  }
}

/**
 * A Firebase user whose Concord session ran out gets a new one from a fresh ID token, quietly —
 * unless the account has two-factor sign-in, which then asks for the second factor again.
 */
async function renewFirebase(): Promise<SessionResponse | null> {
  const { firebase } = await clientConfig();
  if (!firebase) return null;
  const idToken = await firebaseIdToken(firebase);
  const renewed = idToken ? await firebaseSession(idToken) : null;
  return renewed && !isSecondFactorChallenge(renewed) ? renewed : null;
}

/**
 * The signed-in session, kept in localStorage so a reload stays signed in. Signing out ends it on
 * the server too. The server judges whether it is still good: a refused token signs out (a server that is down does not), except
 * that a Firebase user is first signed in again with a fresh Firebase ID token.
 */
export function useSession() {
  const [stored, setStored] = useState(load);

  const signOut = useCallback(() => {
    const previous = load();
    localStorage.removeItem(KEY);
    setStored(null);
    // Best effort: a session the server refused already is ended anyway, and the page is signed out either way.
    if (previous) void signOutSession(previous.session.token).catch(() => undefined);
    if (previous?.provider === 'firebase') {
      void clientConfig().then((config) => config.firebase && firebaseSignOut(config.firebase)).catch(() => undefined);
    }
  }, []);

  const signedIn = useCallback((session: SessionResponse, provider: SignInProvider) => {
    const next: StoredSession = { session, provider };
    localStorage.setItem(KEY, JSON.stringify(next));
    setStored(next);
  }, []);

  const token = stored?.session.token;
  const provider = stored?.provider;
  useEffect(() => {
    if (!token) return;
    let cancelled = false;
    checkSession(token).catch(async (error) => {
      if (cancelled || !(error instanceof ProtocolError && error.code === 'UNAUTHENTICATED')) return;
      const renewed = provider === 'firebase' ? await renewFirebase().catch(() => null) : null;
      if (cancelled) return;
      if (renewed) signedIn(renewed, 'firebase');
      else signOut();
    });
    return () => {
      cancelled = true;
    };
  }, [token, provider, signOut, signedIn]);

  return { session: stored?.session ?? null, provider: stored?.provider ?? 'local', signedIn, signOut };
}
