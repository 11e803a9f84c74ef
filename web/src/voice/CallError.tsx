import { useServices, useVoice } from '../app/context';
import { Close } from '../ui/icons';

/** What went wrong with the call, or why it ended (say, its user was removed), until dismissed. */
export function CallError({ className = 'call-error' }: { className?: string }) {
  const { voice } = useServices();
  const { error } = useVoice();
  if (!error) return null;
  return (
    <p className={className} role="alert" data-testid="call-error">
      {error}
      <button className="icon-button tiny" aria-label="Dismiss" onClick={() => voice.dismissError()}>
        <Close size={14} />
      </button>
    </p>
  );
}
