import { lazy, Suspense } from 'react';
import { AuthForm } from './auth/AuthForm';
import { useSession } from './auth/session';

// The call code (mediasoup-client, socket.io) loads only once someone is signed in.
const CallScreen = lazy(() => import('./components/CallScreen').then((m) => ({ default: m.CallScreen })));

export function App() {
  const { session, signedIn, signOut } = useSession();
  if (!session) return <AuthForm onSignedIn={signedIn} />;
  return (
    <Suspense fallback={null}>
      {/* Keyed by user: signing in as someone else starts from a clean slate. */}
      <CallScreen key={session.user.id} session={session} onSignOut={signOut} />
    </Suspense>
  );
}
