import { useEffect } from 'react';
import { useServices } from '../app/context';

const editable = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT');

/**
 * Push-to-talk: while it is on, the microphone is live only while its key is held (not while
 * typing in a text field, and released when the window loses focus).
 */
export function usePushToTalk(): void {
  const { voice } = useServices();
  useEffect(() => {
    const down = (event: KeyboardEvent) => {
      if (event.code !== voice.state.preferences.pushToTalkKey || event.repeat || editable(event.target)) return;
      voice.pushToTalk(true);
    };
    const up = (event: KeyboardEvent) => {
      if (event.code === voice.state.preferences.pushToTalkKey) voice.pushToTalk(false);
    };
    const release = () => voice.pushToTalk(false);
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    window.addEventListener('blur', release);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
      window.removeEventListener('blur', release);
    };
  }, [voice]);
}

/** A push-to-talk key (KeyboardEvent.code) as people call it: `KeyV` is V, `ShiftLeft` is Shift (Left). */
export function keyName(code: string): string {
  if (code.startsWith('Key')) return code.slice(3);
  if (code.startsWith('Digit')) return code.slice(5);
  return code.replace(/(Left|Right)$/, ' ($1)');
}
