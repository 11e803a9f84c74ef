import { presenceOf, QUIET_MS, startRealtime, type RealtimeSetup } from '@concord/testkit/src/realtime';
import { sleep } from '@concord/testkit/src/wait';

const typing = (userId: string) => ({ serverId: 'srv-1', channelId: 'chan-1', userId });

describe.each([
  ['through Redis, across two signaling instances', 'redis' as const],
  ['in one process', 'in-process' as const],
])('real-time delivery %s', (_name, mode) => {
  let rt: RealtimeSetup;
  // The instance of the second party of each test: the other one, when there are two.
  let other: number;

  beforeAll(async () => {
    rt = await startRealtime({ mode });
    other = rt.signalings.length - 1;
  });
  afterAll(async () => {
    await rt?.close();
  });

  test('an event reaches every socket of every user in the audience, and no one else', async () => {
    const aliceHere = await rt.connect(0, 'd-alice');
    const aliceThere = await rt.connect(other, 'd-alice');
    const bob = await rt.connect(other, 'd-bob');
    const outsiders = [await rt.connect(0, 'd-eve'), await rt.connect(other, 'd-eve')];

    await rt.publisher.publish({ userIds: ['d-alice', 'd-bob', 'd-alice'] }, 'typing:started', typing('d-alice'));

    for (const client of [aliceHere, aliceThere, bob]) expect(await client.next('typing:started')).toEqual(typing('d-alice'));
    await sleep(QUIET_MS);
    for (const client of [aliceHere, aliceThere, bob]) expect(client.eventsOf('typing:started')).toEqual([typing('d-alice')]);
    for (const client of outsiders) expect(client.eventsOf('typing:started')).toEqual([]);
  });

  test('an empty audience sends nothing, and a payload off its schema is refused at the API', async () => {
    const alice = await rt.connect(0, 'e-alice');
    await rt.publisher.publish({ userIds: [] }, 'typing:started', typing('e-alice'));
    const malformed = { serverId: 'srv-1', channelId: 'chan-1' } as unknown as ReturnType<typeof typing>;
    await expect(rt.publisher.publish({ userIds: ['e-alice'] }, 'typing:started', malformed)).rejects.toMatchObject({ code: 'INTERNAL' });
    await sleep(QUIET_MS);
    expect(alice.received).toEqual([]);
  });

  test('presence changes reach the members of the user’s servers; a user is online until the last connection goes', async () => {
    rt.memberships.set('p-alice', ['srv-p']);
    const bob = await rt.connect(other, 'p-bob');
    const outsider = await rt.connect(other, 'p-eve');
    // Bob joins the server while connected: the API puts his sockets in its room.
    await rt.publisher.addToServerRoom('p-bob', 'srv-p');
    await rt.inServerRoom(other, 'srv-p', bob);

    const first = await rt.connect(0, 'p-alice');
    expect(await bob.next('presence:updated', (e) => e.userId === 'p-alice')).toEqual({ userId: 'p-alice', status: 'online' });
    const second = await rt.connect(other, 'p-alice');
    await rt.inServerRoom(other, 'srv-p', second);

    // Idle only once every connection is.
    expect(await first.ok('presence:set', { status: 'idle' })).toEqual({});
    await sleep(QUIET_MS);
    expect(presenceOf(bob, 'p-alice')).toEqual(['online']);
    expect(await second.ok('presence:set', { status: 'idle' })).toEqual({});
    await bob.next('presence:updated', (e) => e.userId === 'p-alice' && e.status === 'idle');
    expect(await second.ok('presence:set', { status: 'online' })).toEqual({});
    expect(await first.ok('presence:set', { status: 'online' })).toEqual({});
    await bob.next('presence:updated', () => presenceOf(bob, 'p-alice').length === 3);

    // Online while one connection is left.
    await second.disconnect();
    await sleep(QUIET_MS);
    expect(presenceOf(bob, 'p-alice')).toEqual(['online', 'idle', 'online']);
    expect((await rt.stores[0]!.statusOf(['p-alice'])).get('p-alice')).toBe('online');

    await first.disconnect();
    await bob.next('presence:updated', (e) => e.userId === 'p-alice' && e.status === 'offline');
    expect(presenceOf(bob, 'p-alice')).toEqual(['online', 'idle', 'online', 'offline']);
    expect((await rt.stores[0]!.statusOf(['p-alice'])).get('p-alice')).toBe('offline');
    // Alice's own connection is in her server's room too; a non-member heard nothing.
    expect(presenceOf(first, 'p-alice')).toEqual(['online', 'idle', 'online']);
    expect(outsider.eventsOf('presence:updated')).toEqual([]);
  });

  test('a user taken out of a server’s room hears no more of its presence', async () => {
    rt.memberships.set('r-alice', ['srv-r']);
    const bob = await rt.connect(other, 'r-bob');
    await rt.publisher.addToServerRoom('r-bob', 'srv-r');
    await rt.inServerRoom(other, 'srv-r', bob);
    const alice = await rt.connect(0, 'r-alice');
    await bob.next('presence:updated', (e) => e.userId === 'r-alice');

    await rt.publisher.removeFromServerRoom('r-bob', 'srv-r');
    await rt.inServerRoom(other, 'srv-r', bob, false);
    await alice.disconnect();
    await sleep(QUIET_MS);
    expect(presenceOf(bob, 'r-alice')).toEqual(['online']);
  });

  test('the users of an instance that stops heart-beating go offline, announced once by a live instance', async () => {
    rt.memberships.set('c-alice', ['srv-c']);
    const bob = await rt.connect(other, 'c-bob');
    await rt.publisher.addToServerRoom('c-bob', 'srv-c');
    await rt.inServerRoom(other, 'srv-c', bob);
    // An instance that registered Alice's connection and then crashed: no disconnect, no more heartbeats.
    const store = rt.stores[0]!;
    await store.heartbeat('crashed-instance', 300);
    await store.connected('c-alice', 'lost-connection', 'crashed-instance');
    expect((await store.statusOf(['c-alice'])).get('c-alice')).toBe('online');

    expect(await bob.next('presence:updated', (e) => e.userId === 'c-alice')).toEqual({ userId: 'c-alice', status: 'offline' });
    expect((await store.statusOf(['c-alice'])).get('c-alice')).toBe('offline');
    // Every live instance sweeps; one announces.
    await sleep(QUIET_MS);
    expect(presenceOf(bob, 'c-alice')).toEqual(['offline']);
  });

  test('presence:set takes a valid status only, with an acknowledgement', async () => {
    const alice = await rt.connect(0, 'v-alice');
    expect(await alice.send('presence:set', { status: 'offline' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await alice.send('presence:set', { status: 'idle', extra: 1 })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await alice.send('presence:set')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    (alice.socket.emit as unknown as (event: string, payload: unknown) => void)('presence:set', { status: 'idle' });
    expect(await alice.nextOf('protocol:error')).toMatchObject({ event: 'presence:set', code: 'BAD_REQUEST' });
    expect((await rt.stores[0]!.statusOf(['v-alice'])).get('v-alice')).toBe('online');
  });
});
