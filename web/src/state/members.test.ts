import { describe, expect, it } from '@jest/globals';
import { displayName, memberRemoved, memberUpserted, userUpdated } from './members';
import { ME, SERVER, guildOf, loadedState, member } from './test-fixtures';

describe('members slice', () => {
  it('a member who joins is listed, named, and shown with the presence the API saw', () => {
    const state = loadedState();
    const next = memberUpserted(state, member('ann', { presence: 'online' }));
    expect(guildOf(next).members.ann?.user.displayName).toBe('ann name');
    expect(next.users.ann?.displayName).toBe('ann name');
    expect(next.presence.ann).toBe('online');
    // Without presence in the record, nothing is claimed about it.
    expect(memberUpserted(state, member('bob')).presence).toBe(state.presence);
  });

  it('our own member record never overrides our presence', () => {
    expect(memberUpserted(loadedState(), member(ME, { presence: 'offline' })).presence[ME]).toBe('online');
  });

  it('ignores members of servers we do not have', () => {
    const state = loadedState();
    expect(memberUpserted(state, member('ann', { serverId: 'elsewhere' }))).toBe(state);
  });

  it('a member who leaves, is kicked or banned is no longer listed (their name stays for old messages)', () => {
    const state = loadedState({ members: [member(ME), member('ann')] });
    const next = memberRemoved(state, SERVER, 'ann');
    expect(Object.keys(guildOf(next).members)).toEqual([ME]);
    expect(displayName(next, 'ann', SERVER)).toBe('ann name');
  });

  it('names: nickname on the server, else display name; deleted and unknown users say so', () => {
    const state = loadedState({ members: [member(ME), member('ann', { nickname: 'Annie' })] });
    expect(displayName(state, 'ann', SERVER)).toBe('Annie');
    expect(displayName(state, 'ann')).toBe('ann name');
    expect(displayName(state, null)).toBe('Deleted user');
    expect(displayName(state, 'ghost', SERVER)).toBe('Unknown user');
  });

  it('a profile change renames the user everywhere, us included', () => {
    const state = loadedState({ members: [member(ME), member('ann')] });
    const renamed = userUpdated(state, { id: 'ann', username: 'ann', displayName: 'Ann B', avatarUrl: null });
    expect(displayName(renamed, 'ann', SERVER)).toBe('Ann B');
    expect(displayName(renamed, 'ann')).toBe('Ann B');
    const me = userUpdated(state, { id: ME, username: ME, displayName: 'New me', avatarUrl: null });
    expect(me.me.displayName).toBe('New me');
    expect(guildOf(me).members[ME]?.user.displayName).toBe('New me');
  });
});
