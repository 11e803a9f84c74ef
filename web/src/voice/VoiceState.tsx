import type { CallState } from '../call/room';

const LABEL: Record<CallState, string> = {
  connecting: 'Connecting…',
  connected: 'Voice connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Not connected',
};

/** The call's connection state, in words and colour; `data-state` for tests. */
export function VoiceState({ state, testId = 'voice-state' }: { state: CallState; testId?: string }) {
  return (
    <span className={`voice-state ${state}`} data-testid={testId} data-state={state} role="status">
      <span className="dot" aria-hidden="true" />
      {LABEL[state]}
    </span>
  );
}
