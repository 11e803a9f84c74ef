import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { dropConnection, errorCode, eventsOf, nextEvent, ok, produceRequest, type ClientSocket } from '@concord/testkit/src/voice-client';
import { sleep } from '@concord/testkit/src/wait';

const GRACE_MS = 500;
let h: Harness;
let ssrc = 8000;

beforeAll(async () => {
  h = await startHarness({ sfu: { peerGraceMs: GRACE_MS } });
});

afterAll(async () => {
  await h?.close();
});

/** Bob receiving, Alice joined after him with her mic on; answers Alice's socket and producer. */
async function roomWithAliceSpeaking(room: string): Promise<{ alice: ClientSocket; bob: ClientSocket; producerId: string }> {
  const { socket: bob, joined } = await h.joinedClient('bob', room);
  await ok(bob, 'voice:createTransport', { direction: 'recv' });
  await ok(bob, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  const { socket: alice } = await h.joinedClient('alice', room);
  const producerId = await produceMic(alice);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === producerId);
  return { alice, bob, producerId };
}

async function produceMic(socket: ClientSocket): Promise<string> {
  const { transportId } = await ok(socket, 'voice:createTransport', { direction: 'send' });
  return (await ok(socket, 'voice:produce', produceRequest(transportId, 'mic', ++ssrc))).producerId;
}

const peerIds = (events: { peer: { peerId: string } }[]) => events.map((e) => e.peer.peerId);

describe('a dropped connection', () => {
  test('takes its media at once; back within the grace period it is the same peer, unannounced', async () => {
    const { alice, bob, producerId } = await roomWithAliceSpeaking('drop-back');

    await dropConnection(alice);
    expect(await nextEvent(bob, 'voice:consumerClosed')).toMatchObject({ producerId });

    const { socket: aliceAgain, joined } = await h.joinedClient('alice', 'drop-back');
    expect(joined.peerId).toBe('alice');
    expect(joined.peers.map((p) => p.peerId)).toEqual(['bob']);

    // Past the grace period: Bob saw Alice arrive once and never leave.
    await sleep(GRACE_MS + 200);
    expect(peerIds(eventsOf(bob, 'voice:peerJoined'))).toEqual(['alice']);
    expect(eventsOf(bob, 'voice:peerLeft')).toEqual([]);

    // And she can speak again.
    const again = await produceMic(aliceAgain);
    expect(await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === again)).toMatchObject({ peerId: 'alice', source: 'mic' });
  });

  test('that does not come back leaves the room after the grace period', async () => {
    const { alice, bob, producerId } = await roomWithAliceSpeaking('drop-gone');
    const dropped = Date.now();
    await dropConnection(alice);
    expect(await nextEvent(bob, 'voice:consumerClosed')).toMatchObject({ producerId });
    expect(eventsOf(bob, 'voice:peerLeft')).toEqual([]);

    expect(await nextEvent(bob, 'voice:peerLeft', () => true, GRACE_MS + 2_000)).toEqual({ peerId: 'alice' });
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(GRACE_MS - 50);
    // A later join is a new arrival.
    await h.joinedClient('alice', 'drop-gone');
    expect(peerIds(eventsOf(bob, 'voice:peerJoined'))).toEqual(['alice', 'alice']);
  });

  test('while its join is under way still lets the peer go after the grace period', async () => {
    const { socket: bob } = await h.joinedClient('bob', 'drop-joining');
    const alice = await h.connectClient('alice');
    const grant = await h.grantFor('alice', 'drop-joining');
    // The join is sent, then the connection drops before signaling has placed Alice.
    (alice.emit as unknown as (name: string, payload: unknown, ack: () => void) => void)('voice:join', { grant }, () => undefined);
    await dropConnection(alice);

    expect(await nextEvent(bob, 'voice:peerJoined')).toMatchObject({ peer: { peerId: 'alice' } });
    expect(await nextEvent(bob, 'voice:peerLeft', () => true, GRACE_MS + 2_000)).toEqual({ peerId: 'alice' });
  });
});

describe('the same user joining from a second socket', () => {
  test('displaces the first, which is told its room is closed; the second carries on alone', async () => {
    const { alice, bob, producerId } = await roomWithAliceSpeaking('displace');

    const { socket: secondTab, joined } = await h.joinedClient('alice', 'displace');
    expect(joined.peerId).toBe('alice');
    expect(await nextEvent(alice, 'voice:roomClosed')).toEqual({ roomId: 'displace', reason: 'joined from another session' });
    expect(eventsOf(secondTab, 'voice:roomClosed')).toEqual([]);
    // The first tab's mic goes for Bob at once, not when the second tab sets up media of its own.
    expect(await nextEvent(bob, 'voice:consumerClosed')).toMatchObject({ producerId });
    // The first socket is out of the room (but still connected and served).
    expect(await errorCode(alice, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');

    // The first socket going away does not take the second's peer with it.
    alice.close();
    await sleep(GRACE_MS + 200);
    expect(eventsOf(bob, 'voice:peerLeft')).toEqual([]);
    expect(peerIds(eventsOf(bob, 'voice:peerJoined'))).toEqual(['alice']);
    // Told exactly once.
    expect(eventsOf(alice, 'voice:roomClosed')).toHaveLength(1);

    // The second tab owns the peer: it sends, and the first tab's mic is gone for Bob.
    const again = await produceMic(secondTab);
    expect(await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === again)).toMatchObject({ peerId: 'alice' });
    expect(eventsOf(bob, 'voice:consumerClosed').map((c) => c.producerId)).toEqual([producerId]);
  });
});
