import type { CallState } from '../call/room';

const LABEL: Record<CallState, string> = {
  connecting: 'Connecting…',
  connected: 'Voice connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Not connected',
};

export function VoiceState({ state }: { state: CallState }) {
  return (
    <span className={`voice-state ${state}`} data-testid="voice-state" data-state={state} role="status">
      <span className="dot" />
      {LABEL[state]}
    </span>
  );
}
