import { describe, expect, it } from '@jest/globals';
import { DEFAULT_MESSAGE_PAGE } from '@concord/protocol';
import type { Message } from '@concord/protocol';
import { pendingId } from './chat';
import type { ChatMessage } from './chat';
import {
  chatOf,
  chatOpened,
  latestPageLoaded,
  messageReceived,
  messageRemoved,
  messageUpdated,
  olderPageLoaded,
  pendingAdded,
  pendingChanged,
  pendingDiscarded,
  reactionChanged,
} from './messages';
import { ME, emptyState, message } from './test-fixtures';
import type { AppState } from './app-state';

const ids = (state: AppState, channelId = 'c1') => chatOf(state, channelId).messages.map((m) => m.id);
const page = (from: number, count: number): Message[] => Array.from({ length: count }, (_, i) => message(String(from + i).padStart(4, '0')));
const loaded = (...messages: Message[]) => latestPageLoaded(emptyState(), 'c1', messages);
const pending = (nonce: string): ChatMessage => ({ ...message(pendingId(nonce), { authorId: ME, nonce }), pending: 'sending' });

describe('messages slice', () => {
  it('a message that arrives live joins an opened chat, and only an opened one', () => {
    const state = loaded(message('01'));
    expect(ids(messageReceived(state, message('02'), true))).toEqual(['01', '02']);
    const unopened = emptyState();
    expect(messageReceived(unopened, message('02', { channelId: 'c9' }), true)).toBe(unopened);
  });

  it('a message that arrives live while the first page loads stays when that page (read before it was sent) lands', () => {
    const opening = messageReceived(chatOpened(emptyState(), 'c1'), message('03'), true);
    const landed = latestPageLoaded(opening, 'c1', [message('01'), message('02')]);
    expect(ids(landed)).toEqual(['01', '02', '03']);
    expect(chatOf(landed, 'c1').loaded).toBe(true);
  });

  it('edits and deletions show live; events about channels not loaded change nothing', () => {
    const state = loaded(message('01'), message('02', { replyToId: '01' }));
    const edited = messageUpdated(state, { id: '01', channelId: 'c1', serverId: 's1', content: 'fixed', editedAt: '2030-01-02T00:00:00.000Z', mentions: [], mentionEveryone: false });
    expect(chatOf(edited, 'c1').messages[0]).toMatchObject({ content: 'fixed', editedAt: '2030-01-02T00:00:00.000Z' });
    const deleted = messageRemoved(edited, 'c1', '01');
    expect(ids(deleted)).toEqual(['02']);
    expect(chatOf(deleted, 'c1').messages[0]!.replyToId).toBeNull();
    expect(messageRemoved(state, 'c9', '01')).toBe(state);
  });

  it('counts reactions from others and ours, ours once even when its event follows', () => {
    let state = loaded(message('01'));
    state = reactionChanged(state, 'c1', '01', '👍', 1, 'ann');
    state = reactionChanged(state, 'c1', '01', '👍', 1, ME);
    state = reactionChanged(state, 'c1', '01', '👍', 1, ME);
    expect(chatOf(state, 'c1').messages[0]!.reactions).toEqual([{ emoji: '👍', count: 2, me: true }]);
    state = reactionChanged(state, 'c1', '01', '👍', -1, 'ann');
    expect(chatOf(state, 'c1').messages[0]!.reactions).toEqual([{ emoji: '👍', count: 1, me: true }]);
  });

  it('our message shows at once, is confirmed by the sent one with its nonce, or marked failed, or discarded', () => {
    let state = pendingAdded(loaded(message('01')), pending('n1'));
    expect(ids(state)).toEqual(['01', pendingId('n1')]);
    state = pendingChanged(state, 'c1', 'n1', { pending: 'failed', error: 'Offline' });
    expect(chatOf(state, 'c1').messages[1]).toMatchObject({ pending: 'failed', error: 'Offline' });
    expect(ids(pendingDiscarded(state, 'c1', 'n1'))).toEqual(['01']);
    const confirmed = messageReceived(state, message('02', { authorId: ME, nonce: 'n1' }));
    expect(ids(confirmed)).toEqual(['01', '02']);
    expect(chatOf(confirmed, 'c1').messages[1]!.pending).toBeUndefined();
  });

  it('the latest page after a gap replaces what was loaded (keeping our pending messages)', () => {
    let state = pendingAdded(loaded(...page(1, 3)), pending('n1'));
    state = latestPageLoaded(state, 'c1', page(100, DEFAULT_MESSAGE_PAGE));
    expect(ids(state)[0]).toBe('0100');
    expect(ids(state)).toHaveLength(DEFAULT_MESSAGE_PAGE + 1);
    expect(chatOf(state, 'c1')).toMatchObject({ loaded: true, hasMore: true, error: null });
    // A full page that overlaps what we have keeps it all.
    const overlap = latestPageLoaded(loaded(...page(1, 3)), 'c1', page(3, DEFAULT_MESSAGE_PAGE));
    expect(ids(overlap).slice(0, 4)).toEqual(['0001', '0002', '0003', '0004']);
    expect(ids(overlap)).toHaveLength(DEFAULT_MESSAGE_PAGE + 2);
  });

  it('older pages go before the loaded ones until a short page says there are no more', () => {
    let state = latestPageLoaded(emptyState(), 'c1', page(100, DEFAULT_MESSAGE_PAGE));
    state = olderPageLoaded(state, 'c1', page(50, DEFAULT_MESSAGE_PAGE));
    expect(ids(state)[0]).toBe('0050');
    expect(chatOf(state, 'c1').hasMore).toBe(true);
    state = olderPageLoaded(state, 'c1', page(40, 10));
    expect(ids(state)[0]).toBe('0040');
    expect(chatOf(state, 'c1')).toMatchObject({ hasMore: false, loadingOlder: false });
  });
});
