import { describe, expect, it } from '@jest/globals';
import { presenceUpdated } from './presence';
import { ME, emptyState } from './test-fixtures';
import { TYPING_MS, typingEnded, typingExpired, typingStarted } from './typing';

describe('presence and typing slices', () => {
  it('shows others going online, idle and offline', () => {
    let state = presenceUpdated(emptyState(), 'ann', 'online');
    state = presenceUpdated(state, 'ann', 'idle');
    expect(state.presence).toEqual({ [ME]: 'online', ann: 'idle' });
    expect(presenceUpdated(state, 'ann', 'offline').presence.ann).toBe('offline');
  });

  it('shows others typing until their message or the timeout, never ourselves', () => {
    const start = emptyState();
    expect(typingStarted(start, 'c1', ME, 0)).toBe(start);
    let state = typingStarted(typingStarted(start, 'c1', 'ann', 1_000), 'c1', 'bob', 5_000);
    expect(state.typing).toEqual({ c1: { ann: 1_000 + TYPING_MS, bob: 5_000 + TYPING_MS } });
    state = typingEnded(state, 'c1', 'bob');
    expect(state.typing).toEqual({ c1: { ann: 1_000 + TYPING_MS } });
    expect(typingEnded(state, 'c1', 'bob')).toBe(state);
    expect(typingExpired(state, 1_000 + TYPING_MS - 1)).toBe(state);
    expect(typingExpired(state, 1_000 + TYPING_MS).typing).toEqual({});
  });
});
