import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { errorCode, eventsOf, nextEvent, ok, produceRequest, type ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually, sleep } from '@concord/testkit/src/wait';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ sfu: { workers: 2 } });
});

afterAll(async () => {
  await h?.close();
});

const workerOf = (roomId: string) => h.node.workers().find((worker) => worker.roomIds.includes(roomId));

/** Joins with a fresh grant, then sets up sending a mic and receiving everything. */
async function joinWithMedia(socket: ClientSocket, userId: string, room: string, ssrc: number): Promise<string> {
  const joined = await ok(socket, 'voice:join', { grant: await h.grantFor(userId, room) });
  const { transportId } = await ok(socket, 'voice:createTransport', { direction: 'send' });
  const { producerId } = await ok(socket, 'voice:produce', produceRequest(transportId, 'mic', ssrc));
  await ok(socket, 'voice:createTransport', { direction: 'recv' });
  await ok(socket, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  return producerId;
}

test('a dead worker closes its room for every client in it; they rejoin and carry on, other rooms never notice', async () => {
  const alice = await h.connectClient('alice');
  const bob = await h.connectClient('bob');
  const carol = await h.connectClient('carol');
  const aliceMic = await joinWithMedia(alice, 'alice', 'doomed', 7001);
  const bobMic = await joinWithMedia(bob, 'bob', 'doomed', 7002);
  await nextEvent(alice, 'voice:newConsumer', (c) => c.producerId === bobMic);
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === aliceMic);
  await joinWithMedia(carol, 'carol', 'bystander', 7003);
  const doomed = workerOf('doomed');
  expect(doomed?.pid).toBeDefined();
  // Placement spread the rooms over the two workers.
  expect(workerOf('bystander')?.index).not.toBe(doomed?.index);

  process.kill(doomed!.pid!, 'SIGKILL');

  for (const socket of [alice, bob]) expect(await nextEvent(socket, 'voice:roomClosed')).toEqual({ roomId: 'doomed', reason: 'worker died' });
  // Out of the room until they rejoin; the bystander's room carries on meanwhile.
  expect(await errorCode(alice, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
  expect((await ok(carol, 'voice:createTransport', { direction: 'recv' })).direction).toBe('recv');

  // Rejoin with fresh grants: the room opens afresh (on the surviving worker, or the replacement).
  const aliceAgain = await joinWithMedia(alice, 'alice', 'doomed', 7011);
  const bobAgain = await joinWithMedia(bob, 'bob', 'doomed', 7012);
  expect(await nextEvent(alice, 'voice:newConsumer', (c) => c.producerId === bobAgain)).toMatchObject({ peerId: 'bob' });
  expect(await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === aliceAgain)).toMatchObject({ peerId: 'alice' });
  expect(workerOf('doomed')?.pid).not.toBe(doomed!.pid);

  // The bystander room was never closed, and the dead worker is replaced.
  await eventually(() => h.node.workers().every((worker) => worker.pid !== undefined && worker.pid !== doomed!.pid));
  await sleep(50);
  expect(eventsOf(carol, 'voice:roomClosed')).toEqual([]);
  for (const socket of [alice, bob]) expect(eventsOf(socket, 'voice:roomClosed')).toHaveLength(1);
});
