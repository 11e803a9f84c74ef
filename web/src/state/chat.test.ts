import { describe, expect, it } from '@jest/globals';
import { applyReaction, mergeMessages, pendingId, removeMessage, updateMessage } from './chat';
import type { ChatMessage } from './chat';
import { ME, message } from './test-fixtures';

const pending = (nonce: string): ChatMessage => ({ ...message(pendingId(nonce), { authorId: ME, nonce }), pending: 'sending' });
const ids = (list: ChatMessage[]) => list.map((m) => m.id);

describe('mergeMessages', () => {
  it('keeps each id once, in id order, with pending ones last', () => {
    const merged = mergeMessages([message('02'), pending('n1'), message('04')], [message('03'), message('01'), message('02')], ME);
    expect(ids(merged)).toEqual(['01', '02', '03', '04', pendingId('n1')]);
  });

  it('replaces our pending message by the sent one with its nonce, however often it arrives', () => {
    const sent = message('05', { authorId: ME, nonce: 'n1' });
    const once = mergeMessages([message('01'), pending('n1'), pending('n2')], [sent], ME);
    expect(ids(once)).toEqual(['01', '05', pendingId('n2')]);
    // The answer to the send and the real-time event both bring it.
    expect(ids(mergeMessages(once, [sent], ME))).toEqual(['01', '05', pendingId('n2')]);
  });

  it('does not take another author’s nonce for ours', () => {
    expect(ids(mergeMessages([pending('n1')], [message('05', { nonce: 'n1' })], ME))).toEqual(['05', pendingId('n1')]);
  });

  it('keeps a newer edit over an older page', () => {
    const edited = message('01', { content: 'new', editedAt: '2030-01-01T00:00:00.000Z' });
    expect(mergeMessages([edited], [message('01', { content: 'old' })], ME)[0]!.content).toBe('new');
  });
});

describe('updates', () => {
  it('edits and deletes; a reply to a deleted message loses its reference', () => {
    const list = [message('01'), message('02', { replyToId: '01' })];
    const edited = updateMessage(list, { id: '01', channelId: 'c', serverId: 's', content: 'x', editedAt: 'now', mentions: ['me'], mentionEveryone: false });
    expect(edited[0]).toMatchObject({ content: 'x', editedAt: 'now', mentions: ['me'] });
    expect(removeMessage(edited, '01')).toEqual([{ ...list[1], replyToId: null }]);
  });

  it('counts reactions, and our own change once even when its event follows', () => {
    let reactions = applyReaction([], '👍', 1, false);
    expect(reactions).toEqual([{ emoji: '👍', count: 1, me: false }]);
    reactions = applyReaction(reactions, '👍', 1, true); // shown at once
    reactions = applyReaction(reactions, '👍', 1, true); // its real-time event
    expect(reactions).toEqual([{ emoji: '👍', count: 2, me: true }]);
    reactions = applyReaction(reactions, '👍', -1, true);
    reactions = applyReaction(reactions, '👍', -1, false);
    expect(reactions).toEqual([]);
  });
});
