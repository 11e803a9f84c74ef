import type { SessionResponse } from '@concord/protocol';
import { CallView } from './CallView';
import { JoinForm } from './JoinForm';
import { useCall, useCallSnapshot } from './use-call';
import { VoiceState } from './VoiceState';

/** Everything after sign-in: the top bar, then either the join form or the call. */
export function CallScreen({ session, onSignOut }: { session: SessionResponse; onSignOut: () => void }) {
  const { room, error, join } = useCall(session);
  const snapshot = useCallSnapshot(room);
  const inCall = room && snapshot && snapshot.state !== 'disconnected';
  const { user } = session;

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Concord</span>
        {inCall && <span className="room-title"># {snapshot.roomId}</span>}
        <VoiceState state={snapshot?.state ?? 'disconnected'} />
        <span className="spacer" />
        <span className="user" data-testid="current-user" data-user-id={user.id} title={user.username}>
          {user.displayName}
        </span>
        <button className="ghost" data-testid="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {error && (
        <p className="banner error" role="alert" data-testid="call-error">
          {error}
        </p>
      )}
      {inCall ? <CallView room={room} snapshot={snapshot} /> : <JoinForm lastRoom={snapshot?.roomId ?? ''} onJoin={join} />}
    </div>
  );
}
