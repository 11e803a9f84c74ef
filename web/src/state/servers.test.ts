import { describe, expect, it } from '@jest/globals';
import { guildFailed, serverAdded, serverDropped, serversListed, serverUpdated } from './servers';
import { ME, SERVER, emptyState, guildOf, loadedState, member, server } from './test-fixtures';

describe('servers slice', () => {
  it('lists our servers in rail order, keeping what is loaded and dropping servers we no longer have', () => {
    const loaded = loadedState();
    const next = serversListed(loaded, [server({ id: 's2', name: 'Second' }), server({ name: 'Renamed' })]);
    expect(next.serverIds).toEqual(['s2', SERVER]);
    expect(guildOf(next)).toMatchObject({ loaded: true, server: { name: 'Renamed' } });
    expect(guildOf(next).channels).toBe(guildOf(loaded).channels);
    expect(next.guilds.s2).toMatchObject({ loaded: false, channels: [], members: {} });
    expect(Object.keys(serversListed(next, [server({ id: 's2' })]).guilds)).toEqual(['s2']);
  });

  it('puts a created or joined server last on the rail, once, without forgetting what we knew of it', () => {
    const state = serversListed(emptyState(), [server(), server({ id: 's2' })]);
    const joined = serverAdded(state, server());
    expect(joined.serverIds).toEqual(['s2', SERVER]);
    expect(joined.guilds[SERVER]).toBe(state.guilds[SERVER]);
    expect(serverAdded(emptyState(), server({ id: 's3' })).serverIds).toEqual(['s3']);
  });

  it('renames a server and forgets a deleted or left one', () => {
    const state = serversListed(loadedState(), [server(), server({ id: 's2' })]);
    expect(guildOf(serverUpdated(state, server({ name: 'New name' }))).server.name).toBe('New name');
    expect(serverUpdated(state, server({ id: 'unknown' }))).toBe(state);
    const dropped = serverDropped(state, SERVER);
    expect(dropped.serverIds).toEqual(['s2']);
    expect(dropped.guilds[SERVER]).toBeUndefined();
  });

  it('loads a server: sorted channels, members by id, their names, and others’ presence (never ours)', () => {
    const state = loadedState({ members: [member(ME, { presence: 'offline' }), member('ann', { presence: 'idle', nickname: 'Annie' })] });
    expect(guildOf(state)).toMatchObject({ loaded: true, error: null, apiPermissions: 0 });
    expect(Object.keys(guildOf(state).members).sort()).toEqual(['ann', ME]);
    expect(state.users.ann?.displayName).toBe('ann name');
    expect(state.presence).toEqual({ [ME]: 'online', ann: 'idle' });
  });

  it('keeps a load failure with the server to show it', () => {
    expect(guildOf(guildFailed(loadedState(), SERVER, 'Network down')).error).toBe('Network down');
  });
});
