import { useEffect, useState } from 'react';
import { AuthForm } from './auth/AuthForm';
import { useSession } from './auth/session';

type ShellModule = typeof import('./app/Shell');

// The app (socket.io, mediasoup-client) loads only once someone is signed in; when a session is
// stored, its download starts at once, alongside the first render. (Loaded by hand rather than
// with lazy() + Suspense, which holds revealed content back for up to 300 ms.)
let shellModule: ShellModule | null = null;
let shellLoading: Promise<ShellModule> | null = null;
const loadShell = () => (shellLoading ??= import('./app/Shell').then((module) => (shellModule = module)));
if (localStorage.getItem('concord.session')) void loadShell();

export function App() {
  const { session, signedIn, signOut } = useSession();
  const [shell, setShell] = useState<ShellModule | null>(shellModule);
  const [loadError, setLoadError] = useState(false);

  useEffect(() => {
    if (!session || shell) return;
    let live = true;
    loadShell().then(
      (module) => live && setShell(module),
      () => live && setLoadError(true),
    );
    return () => {
      live = false;
    };
  }, [session, shell]);

  if (!session) return <AuthForm onSignedIn={signedIn} />;
  if (loadError) {
    return (
      <main className="welcome" role="alert">
        <h1>Concord could not load</h1>
        <p className="muted">Check your connection, then reload the page.</p>
        <button className="primary" onClick={() => location.reload()}>
          Reload
        </button>
      </main>
    );
  }
  if (!shell) return <div className="boot" role="status" aria-label="Loading Concord" />;
  // Keyed by user: signing in as someone else starts from a clean slate.
  return <shell.Shell key={session.user.id} session={session} onSignOut={signOut} />;
}
