import { startHarness, type Harness, type SignalingProcess } from '@concord/testkit/src/signaling';
import { errorCode, eventsOf, nextEvent, ok, produceRequest, type ClientSocket } from '@concord/testkit/src/voice-client';
import { sleep } from '@concord/testkit/src/wait';

/*
 * Several signaling processes sharing one SFU node, as in a cluster: the node, not any one
 * process, knows which client session holds a user's peer and which process reaches it.
 */

const GRACE_MS = 500;
let h: Harness;
let ssrc = 6000;

beforeAll(async () => {
  h = await startHarness({ sfu: { peerGraceMs: GRACE_MS } });
});

afterAll(async () => {
  await h?.close();
});

/** Bob receiving through `bobVia`; answers his socket. */
async function listeningBob(bobVia: SignalingProcess, room: string): Promise<ClientSocket> {
  const { socket: bob, joined } = await bobVia.joinedClient('bob', room);
  await ok(bob, 'voice:createTransport', { direction: 'recv' });
  await ok(bob, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  return bob;
}

async function produceMic(socket: ClientSocket): Promise<string> {
  const { transportId } = await ok(socket, 'voice:createTransport', { direction: 'send' });
  return (await ok(socket, 'voice:produce', produceRequest(transportId, 'mic', ++ssrc))).producerId;
}

test('the same user joining through another process displaces the first tab, which then cannot touch the peer', async () => {
  const room = 'displace-across';
  const otherProcess = await h.addSignaling();
  const bob = await listeningBob(h, room);
  const { socket: firstTab } = await h.joinedClient('alice', room);
  const firstMic = await produceMic(firstTab);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === firstMic);

  const { socket: secondTab, joined } = await otherProcess.joinedClient('alice', room);
  expect(joined.peerId).toBe('alice');
  // The first tab is told, through its own process; its mic is gone for Bob at once.
  expect(await nextEvent(firstTab, 'voice:roomClosed')).toEqual({ roomId: room, reason: 'joined from another session' });
  expect(await nextEvent(bob, 'voice:consumerClosed')).toMatchObject({ producerId: firstMic });
  expect(await errorCode(firstTab, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');

  // The second tab sends; then the first goes away, which must not take the second's media along.
  const secondMic = await produceMic(secondTab);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === secondMic);
  firstTab.close();
  await sleep(GRACE_MS + 200);
  expect(eventsOf(bob, 'voice:consumerClosed').map((c) => c.producerId)).toEqual([firstMic]);
  expect(eventsOf(bob, 'voice:peerLeft')).toEqual([]);
  expect(eventsOf(bob, 'voice:peerJoined').map((e) => e.peer.peerId)).toEqual(['alice']);
  await ok(secondTab, 'voice:pauseProducer', { producerId: secondMic });
  expect(await nextEvent(bob, 'voice:consumerPaused')).toMatchObject({ producerId: secondMic });
  expect(eventsOf(secondTab, 'voice:roomClosed')).toEqual([]);
  expect(eventsOf(firstTab, 'voice:roomClosed')).toHaveLength(1);
});

test("a process cut off from the node: its clients' peers lose their media at once and their place after the grace period", async () => {
  const room = 'cut-off';
  const cutOff = await h.addSignaling({ proxyControl: true });
  const bob = await listeningBob(h, room);
  const { socket: alice } = await cutOff.joinedClient('alice', room);
  const mic = await produceMic(alice);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === mic);

  // The process says nothing to the node: its control connection just goes, as in a crash.
  await cutOff.proxy!.cut();
  const cutAt = Date.now();
  expect(await nextEvent(bob, 'voice:consumerClosed')).toMatchObject({ producerId: mic });
  expect(eventsOf(bob, 'voice:peerLeft')).toEqual([]);
  expect(await nextEvent(bob, 'voice:peerLeft', () => true, GRACE_MS + 2_000)).toEqual({ peerId: 'alice' });
  expect(Date.now() - cutAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
  // Alice's own process told her the node is gone, so her client can rejoin elsewhere.
  expect(await nextEvent(alice, 'voice:roomClosed')).toEqual({ roomId: room, reason: 'SFU node unavailable' });
});
