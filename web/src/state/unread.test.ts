import { describe, expect, it } from '@jest/globals';
import { latestPageLoaded } from './messages';
import { ME, emptyState, message } from './test-fixtures';
import { markedRead, messageUnseen } from './unread';

describe('unread slice', () => {
  it('a message we did not see makes its channel unread and counts mentions of us and @everyone', () => {
    let state = messageUnseen(emptyState(), message('01'));
    expect(state.unread).toEqual({ c1: { mentions: 0 } });
    state = messageUnseen(state, message('02', { mentions: [ME] }));
    state = messageUnseen(state, message('03', { mentionEveryone: true }));
    state = messageUnseen(state, message('04', { mentions: ['ann'] }));
    expect(state.unread).toEqual({ c1: { mentions: 2 } });
  });

  it('reading a channel clears it and moves its marker to the newest message, never back', () => {
    let state = latestPageLoaded(emptyState(), 'c1', [message('01'), message('05')]);
    state = messageUnseen(state, message('05', { mentions: [ME] }));
    state = markedRead(state, 'c1');
    expect(state.unread).toEqual({});
    expect(state.lastRead).toEqual({ c1: '05' });
    expect(markedRead(state, 'c1')).toBe(state);
    const ahead = { ...state, lastRead: { c1: '09' }, unread: { c1: { mentions: 0 } } };
    expect(markedRead(ahead, 'c1')).toMatchObject({ lastRead: { c1: '09' }, unread: {} });
  });

  it('an unread channel we have not loaded is cleared without a marker', () => {
    const state = markedRead(messageUnseen(emptyState(), message('01', { channelId: 'c2' })), 'c2');
    expect(state.unread).toEqual({});
    expect(state.lastRead).toEqual({});
  });
});
