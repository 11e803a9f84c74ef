import { useEffect } from 'react';
import type { AppStore } from '../state/store';

/** Idle after this long without input, or this long after the page was hidden. */
const IDLE_AFTER_MS = 5 * 60_000;

/** Reports this tab as online while it is used and idle when it is not, as Discord does. */
export function usePresenceReporting(store: AppStore): void {
  useEffect(() => {
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const set = (next: boolean) => {
      if (idle === next) return;
      idle = next;
      void store.gateway.setPresence(next ? 'idle' : 'online');
    };
    const active = () => {
      set(false);
      clearTimeout(timer);
      timer = setTimeout(() => set(true), IDLE_AFTER_MS);
    };
    const events = ['pointerdown', 'keydown', 'pointermove', 'focus'] as const;
    let lastMove = 0;
    const onEvent = (event: Event) => {
      // Moving the pointer counts, but at most once a second.
      if (event.type === 'pointermove') {
        const now = Date.now();
        if (now - lastMove < 1_000) return;
        lastMove = now;
      }
      active();
    };
    for (const name of events) window.addEventListener(name, onEvent, { passive: true });
    const onVisibility = () => {
      if (document.visibilityState === 'visible') {
        active();
        // What arrived in the open channel while hidden is read now.
        const channelId = store.state.activeChannelId;
        if (channelId) store.chat.markRead(channelId);
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    active();
    return () => {
      clearTimeout(timer);
      for (const name of events) window.removeEventListener(name, onEvent);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [store]);
}
