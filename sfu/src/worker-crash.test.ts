import type { InProcessRegistry } from '@concord/registry';
import type { VoicePermissions } from '@concord/protocol';
import type { SfuNode } from './sfu-node';
import { ControlClient, sessionOf, startTestNode } from '@concord/testkit/src/sfu';
import { eventually } from '@concord/testkit/src/wait';

const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };

let node: SfuNode;
let registry: InProcessRegistry;
let control: ControlClient;

beforeAll(async () => {
  ({ node, registry } = await startTestNode({ workers: 2 }));
  control = await ControlClient.connect(node.controlUrl);
});

afterAll(async () => {
  control?.close();
  await node?.close();
  await registry?.close();
});

const join = (roomId: string, peerId: string) =>
  control.ok('peer.join', { roomId, peerId, sessionId: sessionOf(peerId), displayName: peerId, permissions: SPEAKER });
const workerOf = (roomId: string) => node.workers().find((worker) => worker.roomIds.includes(roomId));

test('a dead worker closes its rooms, is replaced, and the room can be joined again', async () => {
  await join('doomed', 'a');
  await join('doomed', 'b');
  await join('bystander', 'c');
  const doomed = workerOf('doomed');
  // Placement spreads rooms over the two workers, so the bystander lives on the other one.
  expect(workerOf('bystander')?.index).not.toBe(doomed?.index);
  expect(await registry.placePeer('doomed')).toMatchObject({ id: node.id });

  process.kill(doomed!.pid!, 'SIGKILL');

  for (const peerId of ['a', 'b']) {
    expect(await control.waitFor('doomed', peerId, 'voice:roomClosed')).toEqual({ roomId: 'doomed', reason: 'worker died' });
  }
  expect(control.eventsFor('bystander', 'c', 'voice:roomClosed')).toEqual([]);
  await eventually(async () => (await registry.roomNode('doomed')) === null);
  expect(await control.roomError('doomed', 'a', 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');

  // The slot gets a new worker on the same port.
  await eventually(() => {
    const replacement = node.workers()[doomed!.index];
    return replacement?.pid !== undefined && replacement.pid !== doomed!.pid;
  });
  expect(node.workers()[doomed!.index]?.port).toBe(doomed!.port);
  expect(node.load().workers).toBe(2);

  // Rejoining works; the room opens afresh, and media can be set up on it.
  const rejoined = await join('doomed', 'a');
  expect(rejoined.peers).toEqual([]);
  const transport = await control.room('doomed', 'a', 'voice:createTransport', { direction: 'send' });
  expect(transport).toMatchObject({ direction: 'send' });

  // The bystander's room never noticed.
  await join('bystander', 'd');
  expect(control.eventsFor('bystander', 'c', 'voice:peerJoined').map((e) => e.peer.peerId)).toEqual(['d']);
});
