import { describe, expect, it } from '@jest/globals';
import { channelMoves, channelRemoved, channelsMoved, channelUpserted, findChannel, withOverwrite } from './channels';
import { SERVER, channel, guildOf, loadedState } from './test-fixtures';

const ids = (state: ReturnType<typeof loadedState>) => guildOf(state).channels.map((c) => c.id);

describe('channels slice', () => {
  it('adds a created channel in position order and finds it by id', () => {
    const state = loadedState({ channels: [channel('a', 0), channel('c', 2)] });
    const next = channelUpserted(state, channel('b', 1));
    expect(ids(next)).toEqual(['a', 'b', 'c']);
    expect(findChannel(next, 'b')?.serverId).toBe(SERVER);
    expect(findChannel(next, 'nope')).toBeUndefined();
  });

  it('updates a channel in place, keeping our permission bits (the event has none)', () => {
    const state = loadedState({ channels: [channel('a', 0, { permissions: 7 }), channel('b', 1)] });
    const { permissions: _bits, ...event } = channel('a', 5, { name: 'renamed' });
    const next = channelUpserted(state, event);
    expect(ids(next)).toEqual(['b', 'a']);
    expect(findChannel(next, 'a')).toMatchObject({ name: 'renamed', permissions: 7 });
  });

  it('deletes a channel; deleting a category moves its channels out of it', () => {
    const state = loadedState({ channels: [channel('cat', 0, { kind: 'category' }), channel('a', 1, { parentId: 'cat' }), channel('b', 2)] });
    const next = channelRemoved(state, SERVER, 'cat');
    expect(ids(next)).toEqual(['a', 'b']);
    expect(findChannel(next, 'a')?.parentId).toBeNull();
  });

  it('moves a channel among its siblings only: same category, categories among categories', () => {
    const guild = guildOf(
      loadedState({
        channels: [channel('cat', 0, { kind: 'category' }), channel('a', 1), channel('x', 2, { parentId: 'cat' }), channel('b', 3), channel('cat2', 4, { kind: 'category' })],
      }),
    );
    expect(channelMoves(guild, 'b', -1)).toEqual([
      { id: 'b', position: 1 },
      { id: 'a', position: 3 },
    ]);
    expect(channelMoves(guild, 'a', -1)).toEqual([]);
    expect(channelMoves(guild, 'x', 1)).toEqual([]);
    expect(channelMoves(guild, 'cat', 1)).toEqual([
      { id: 'cat2', position: 0 },
      { id: 'cat', position: 4 },
    ]);
  });

  it('applies moves in position order', () => {
    const state = loadedState({ channels: [channel('a', 1), channel('b', 3)] });
    expect(ids(channelsMoved(state, SERVER, channelMoves(guildOf(state), 'b', -1)))).toEqual(['b', 'a']);
  });

  it('sets, replaces and removes a permission overwrite', () => {
    const base = channel('a', 0, { overwrites: [{ targetType: 'member', targetId: 'ann', allow: 1, deny: 0 }] });
    const set = withOverwrite(base, { targetType: 'role', targetId: 'mods', allow: 2, deny: 4 });
    expect(set.overwrites).toHaveLength(2);
    const replaced = withOverwrite(set, { targetType: 'role', targetId: 'mods', allow: 0, deny: 8 });
    expect(replaced.overwrites).toContainEqual({ targetType: 'role', targetId: 'mods', allow: 0, deny: 8 });
    expect(replaced.overwrites).toHaveLength(2);
    expect(withOverwrite(replaced, { targetType: 'role', targetId: 'mods', allow: 0, deny: 0 }).overwrites).toEqual(base.overwrites);
  });
});
