import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import type { SessionResponse } from '@concord/protocol';
import { fetchVoiceGrant } from '../auth/api';
import { exposeDebugHook } from '../call/diagnostics';
import { CallRoom } from '../call/room';
import { openSignalingSocket } from '../call/signaling-client';
import type { CallSnapshot } from '../call/room';
import { describeError } from '../describe-error';

/**
 * The current call of the signed-in user: join() starts a new CallRoom (leaving the previous
 * one); the call is left when the component goes away. Errors are kept as plain words.
 */
export function useCall(session: SessionResponse) {
  const [room, setRoom] = useState<CallRoom | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    exposeDebugHook(() => room);
    return () => void room?.leave();
  }, [room]);

  const join = useCallback(
    (roomId: string) => {
      const next = new CallRoom({
        socket: openSignalingSocket(session.token),
        displayName: session.user.displayName,
        fetchGrant: (id) => fetchVoiceGrant(session.token, id),
      });
      next.on('error', (e) => setError(describeError(e)));
      setError(null);
      setRoom(next);
      void next.join(roomId);
    },
    [session],
  );

  return { room, error, join };
}

/** Re-renders on every change of the room; null without a room. */
export function useCallSnapshot(room: CallRoom | null): CallSnapshot | null {
  const subscribe = useCallback((onChange: () => void) => (room ? room.on('changed', onChange) : () => undefined), [room]);
  return useSyncExternalStore(subscribe, () => room?.snapshot() ?? null);
}
