import { useCallback, useEffect, useState } from 'react';
import { ProtocolError, SessionResponse } from '@concord/protocol';
import { checkSession } from './api';

const KEY = 'concord.session';

function load(): SessionResponse | null {
  try {
    const parsed = SessionResponse.safeParse(JSON.parse(localStorage.getItem(KEY) ?? 'null'));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * The signed-in session, kept in localStorage so a reload stays signed in. The server judges
 * whether it is still good: a refused token signs out (a server that is down does not).
 */
export function useSession() {
  const [session, setSession] = useState(load);

  const signOut = useCallback(() => {
    localStorage.removeItem(KEY);
    setSession(null);
  }, []);

  const signedIn = useCallback((next: SessionResponse) => {
    localStorage.setItem(KEY, JSON.stringify(next));
    setSession(next);
  }, []);

  const token = session?.token;
  useEffect(() => {
    if (!token) return;
    checkSession(token).catch((error) => {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') signOut();
    });
  }, [token, signOut]);

  return { session, signedIn, signOut };
}
