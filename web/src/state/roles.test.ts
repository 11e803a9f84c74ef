import { describe, expect, it } from '@jest/globals';
import { memberRoleSet, roleRemoved, roleUpserted } from './roles';
import { EVERYONE, SERVER, guildOf, loadedState, member, role } from './test-fixtures';

describe('roles slice', () => {
  it('keeps roles in rank order, highest first, as they are created and changed', () => {
    const state = roleUpserted(roleUpserted(loadedState(), role('mods', 0, 1)), role('admins', 0, 2));
    expect(guildOf(state).roles.map((r) => r.id)).toEqual(['admins', 'mods', EVERYONE]);
    const demoted = roleUpserted(state, role('admins', 0, 1, { name: 'Admins' }));
    expect(guildOf(demoted).roles.find((r) => r.id === 'admins')?.name).toBe('Admins');
    expect(guildOf(demoted).roles).toHaveLength(3);
  });

  it('a deleted role is gone from the server and from every member who had it', () => {
    const state = loadedState({ roles: [role('mods', 0, 1)], members: [member('ann', { roleIds: ['mods', 'other'] })] });
    const next = roleRemoved(state, SERVER, 'mods');
    expect(guildOf(next).roles.map((r) => r.id)).toEqual([EVERYONE]);
    expect(guildOf(next).members.ann?.roleIds).toEqual(['other']);
  });

  it('gives a role once and takes it away', () => {
    const state = loadedState({ members: [member('ann')] });
    const given = memberRoleSet(memberRoleSet(state, SERVER, 'ann', 'mods', true), SERVER, 'ann', 'mods', true);
    expect(guildOf(given).members.ann?.roleIds).toEqual(['mods']);
    expect(guildOf(memberRoleSet(given, SERVER, 'ann', 'mods', false)).members.ann?.roleIds).toEqual([]);
    expect(memberRoleSet(state, SERVER, 'nobody', 'mods', true)).toBe(state);
  });
});
