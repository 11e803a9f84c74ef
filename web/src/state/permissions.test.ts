import { describe, expect, it } from '@jest/globals';
import { ALL_PERMISSIONS, Permission, has } from '@concord/protocol';
import type { PermissionOverwrite } from '@concord/protocol';
import { channelUpserted, withOverwrite } from './channels';
import { memberRemoved, memberUpserted } from './members';
import { myPermissions } from './permissions';
import { memberRoleSet, roleRemoved, roleUpserted } from './roles';
import { serverUpdated } from './servers';
import { EVERYONE, ME, SERVER, channel, guildOf, loadedState, member, role, server } from './test-fixtures';
import type { AppState } from './app-state';

const { VIEW_CHANNEL, SEND_MESSAGES, MANAGE_CHANNELS, KICK_MEMBERS } = Permission;
const can = (state: AppState, bits: number, channelId?: string) => has(myPermissions(state, SERVER, channelId), bits);
const overwrite = (state: AppState, channelId: string, o: PermissionOverwrite) =>
  channelUpserted(state, withOverwrite(guildOf(state).channels.find((c) => c.id === channelId)!, o));

describe('our permissions, recomputed from the snapshot', () => {
  const base = () =>
    loadedState({
      roles: [role(EVERYONE, VIEW_CHANNEL | SEND_MESSAGES, 0), role('mods', MANAGE_CHANNELS, 1)],
      channels: [channel('c1', 0), channel('c2', 1)],
    });

  it('uses the bits the API sent until roles and our membership are known; none for unknown servers or channels', () => {
    const state = loadedState({ apiPermissions: KICK_MEMBERS, members: [], channels: [channel('c1', 0, { permissions: SEND_MESSAGES })] });
    expect(myPermissions(state, SERVER)).toBe(KICK_MEMBERS);
    expect(myPermissions(state, SERVER, 'c1')).toBe(SEND_MESSAGES);
    expect(myPermissions(state, 'elsewhere')).toBe(0);
    expect(myPermissions(state, SERVER, 'missing')).toBe(0);
  });

  it('a role given to us grants its bits; taking it away, or deleting it, revokes them', () => {
    let state = base();
    expect(can(state, MANAGE_CHANNELS)).toBe(false);
    state = memberRoleSet(state, SERVER, ME, 'mods', true);
    expect(can(state, MANAGE_CHANNELS)).toBe(true);
    expect(can(memberRoleSet(state, SERVER, ME, 'mods', false), MANAGE_CHANNELS)).toBe(false);
    expect(can(roleRemoved(state, SERVER, 'mods'), MANAGE_CHANNELS)).toBe(false);
  });

  it('a role change applies to its members at once', () => {
    let state = memberUpserted(base(), member(ME, { roleIds: ['mods'] }));
    expect(can(state, KICK_MEMBERS)).toBe(false);
    state = roleUpserted(state, role('mods', MANAGE_CHANNELS | KICK_MEMBERS, 1));
    expect(can(state, KICK_MEMBERS)).toBe(true);
    state = roleUpserted(state, role(EVERYONE, 0, 0));
    expect(can(state, SEND_MESSAGES, 'c1')).toBe(false);
  });

  it('channel overwrites: @everyone denied, a role allowed back, a member overwrite last', () => {
    let state = overwrite(base(), 'c1', { targetType: 'role', targetId: EVERYONE, allow: 0, deny: VIEW_CHANNEL });
    expect(can(state, VIEW_CHANNEL, 'c1')).toBe(false);
    expect(can(state, VIEW_CHANNEL, 'c2')).toBe(true);
    expect(can(state, VIEW_CHANNEL)).toBe(true);
    state = overwrite(state, 'c1', { targetType: 'role', targetId: 'mods', allow: VIEW_CHANNEL, deny: 0 });
    expect(can(state, VIEW_CHANNEL, 'c1')).toBe(false);
    state = memberRoleSet(state, SERVER, ME, 'mods', true);
    expect(can(state, VIEW_CHANNEL, 'c1')).toBe(true);
    state = overwrite(state, 'c1', { targetType: 'member', targetId: ME, allow: 0, deny: VIEW_CHANNEL });
    expect(can(state, VIEW_CHANNEL, 'c1')).toBe(false);
    state = overwrite(state, 'c1', { targetType: 'member', targetId: ME, allow: 0, deny: 0 });
    expect(can(state, VIEW_CHANNEL, 'c1')).toBe(true);
  });

  it('the owner has everything; losing our membership falls back to the API’s bits', () => {
    const state = base();
    expect(myPermissions(serverUpdated(state, server({ ownerId: ME })), SERVER)).toBe(ALL_PERMISSIONS);
    expect(myPermissions(memberRemoved({ ...state, guilds: { [SERVER]: { ...guildOf(state), apiPermissions: 0 } } }, SERVER, ME), SERVER)).toBe(0);
  });
});
