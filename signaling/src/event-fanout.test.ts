import { Socket } from 'socket.io-client';
import { VOICE_NAMESPACE, type RoomEventEnvelope } from '@concord/protocol';
import { chatMessage, QUIET_MS, startRealtime, type RealtimeSetup } from '@concord/testkit/src/realtime';
import { startHarness, type Harness, type SignalingProcess } from '@concord/testkit/src/signaling';
import { nextEvent, ok, produceRequest, request } from '@concord/testkit/src/voice-client';
import { eventually, sleep } from '@concord/testkit/src/wait';

/*
 * Fewer copies of every event, counted at the socket level (every event packet socket.io-client
 * receives, by the socket it arrives on): an SFU node sends a room's events only over the control
 * connections of signaling processes serving a peer of the room, and a user in a call gets each
 * real-time event once, on the real-time socket, not again on the call's socket.
 */

type Packet = { data?: unknown[] };
type ClientSocketInternals = { onevent(this: Socket & { auth?: unknown }, packet: Packet): void };

/** Room events each signaling process's control sockets received, by signalingId. */
const roomEvents = new Map<string, RoomEventEnvelope[]>();
/** The control socket of each signaling process, by signalingId. */
const controlSockets = new Map<string, Socket>();
const internals = Socket.prototype as unknown as ClientSocketInternals;
const onevent = internals.onevent;

beforeAll(() => {
  internals.onevent = function (packet) {
    const signalingId = (this.auth as { signalingId?: unknown } | undefined)?.signalingId;
    if (typeof signalingId === 'string' && packet.data?.[0] === 'room:event') {
      controlSockets.set(signalingId, this);
      roomEvents.set(signalingId, [...(roomEvents.get(signalingId) ?? []), packet.data[1] as RoomEventEnvelope]);
    }
    onevent.call(this, packet);
  };
});
afterAll(() => {
  internals.onevent = onevent;
});

/** The harness names its signaling processes `signaling-test-<n>`, in the order they start. */
const ONE = 'signaling-test-1';
const TWO = 'signaling-test-2';
const eventsOfRoom = (signalingId: string, roomId: string): RoomEventEnvelope[] =>
  (roomEvents.get(signalingId) ?? []).filter((envelope) => envelope.roomId === roomId);

describe('room events over the control channel', () => {
  let h: Harness;
  let one: SignalingProcess;
  let two: SignalingProcess;
  let ssrc = 31_000;

  beforeAll(async () => {
    h = await startHarness({ sfu: { peerGraceMs: 500 } });
    one = h;
    two = await h.addSignaling();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** `listener` receiving, then `speaker` joined with a mic that it mutes and unmutes: a room's worth of events. */
  async function talk(via: SignalingProcess, room: string, listener: string, speaker: string): Promise<void> {
    const { socket: receiving, joined } = await via.joinedClient(listener, room);
    await ok(receiving, 'voice:createTransport', { direction: 'recv' });
    await ok(receiving, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
    const { socket: sending } = await via.joinedClient(speaker, room);
    const { transportId } = await ok(sending, 'voice:createTransport', { direction: 'send' });
    const { producerId } = await ok(sending, 'voice:produce', produceRequest(transportId, 'mic', ++ssrc));
    await nextEvent(receiving, 'voice:newConsumer', (consumer) => consumer.producerId === producerId);
    await ok(sending, 'voice:pauseProducer', { producerId });
    await nextEvent(receiving, 'voice:consumerPaused', (consumer) => consumer.producerId === producerId);
    await ok(sending, 'voice:resumeProducer', { producerId });
    await nextEvent(receiving, 'voice:consumerResumed', (consumer) => consumer.producerId === producerId);
  }

  test('a signaling process with no peer in a room receives none of its events', async () => {
    // Process two serves a peer elsewhere on the same node, so it has a control connection that could carry them.
    await two.joinedClient('carol', 'elsewhere');
    await talk(one, 'only-one', 'alice', 'bob');
    await sleep(QUIET_MS);

    expect(eventsOfRoom(ONE, 'only-one').map((envelope) => envelope.event)).toEqual(
      expect.arrayContaining(['voice:peerJoined', 'voice:newConsumer', 'voice:consumerPaused', 'voice:consumerResumed']),
    );
    expect(eventsOfRoom(TWO, 'only-one')).toEqual([]);
  });

  test('a process hears a room while it serves a peer there, and nothing once its last peer has left', async () => {
    const { socket: dave } = await two.joinedClient('dave', 'shared');
    await talk(one, 'shared', 'erin', 'frank');
    expect(eventsOfRoom(TWO, 'shared').map((envelope) => envelope.event)).toContain('voice:peerJoined');

    await ok(dave, 'voice:leave', {});
    const heard = eventsOfRoom(TWO, 'shared').length;
    // More of the room's events: a peer joining, one leaving, media coming and going.
    const { socket: grace } = await one.joinedClient('grace', 'shared');
    await talk(one, 'shared', 'heidi', 'ivan');
    await ok(grace, 'voice:leave', {});
    await sleep(QUIET_MS);
    expect(eventsOfRoom(ONE, 'shared').map((envelope) => envelope.event)).toEqual(expect.arrayContaining(['voice:peerJoined', 'voice:peerLeft']));
    expect(eventsOfRoom(TWO, 'shared')).toHaveLength(heard);
  });

  test('an event for listed peers goes only to the processes holding them, the room’s own events to every process in it', async () => {
    await two.joinedClient('mallory', 'mixed');
    await talk(one, 'mixed', 'nina', 'oscar');
    await sleep(QUIET_MS);

    const toOthers = (envelope: RoomEventEnvelope) => envelope.to !== undefined && !envelope.to.includes('mallory');
    expect(eventsOfRoom(ONE, 'mixed').filter(toOthers).map((envelope) => envelope.event)).toEqual(
      expect.arrayContaining(['voice:newConsumer', 'voice:consumerPaused', 'voice:consumerResumed']),
    );
    expect(eventsOfRoom(TWO, 'mixed').filter(toOthers)).toEqual([]);
    expect(eventsOfRoom(TWO, 'mixed').map((envelope) => envelope.event)).toContain('voice:peerJoined');
  });

  test('after its control connection drops and comes back, the peers it rejoins hear their room again', async () => {
    const { socket: judy } = await two.joinedClient('judy', 'comeback');
    await two.joinedClient('kim', 'comeback');
    const control = controlSockets.get(TWO)!;
    // As a network blip would: the connection goes, socket.io reconnects it.
    control.io.engine.close();
    expect(await nextEvent(judy, 'voice:roomClosed')).toMatchObject({ roomId: 'comeback' });

    // Rejoining, as the web client does after roomClosed (retrying while the control connection is back in a moment).
    const grant = await h.grantFor('judy', 'comeback');
    await eventually(async () => (await request(judy, 'voice:join', { grant })).ok, 10_000, 'judy rejoined');
    const before = eventsOfRoom(TWO, 'comeback').length;
    await one.joinedClient('leo', 'comeback');
    expect(await nextEvent(judy, 'voice:peerJoined', ({ peer }) => peer.peerId === 'leo')).toMatchObject({ peer: { peerId: 'leo' } });
    expect(eventsOfRoom(TWO, 'comeback').length).toBeGreaterThan(before);
  });
});

describe('real-time events for a user in a call', () => {
  let rt: RealtimeSetup;
  beforeAll(async () => {
    rt = await startRealtime({ mode: 'redis', sfu: true });
  });
  afterAll(async () => {
    await rt?.close();
  });

  test('each chat message and typing notice arrives once, on the real-time socket, and never on the call socket', async () => {
    // As the web client: its gateway on one signaling instance, the call's socket on the other.
    const gateway = await rt.connect(0, 'caller');
    const call = await rt.connect(1, 'caller', VOICE_NAMESPACE);
    await call.ok('voice:join', { grant: await rt.grantFor('caller', 'chatty-call', { speak: true, video: true, screen: true }) });

    for (const id of ['m1', 'm2', 'm3']) await rt.publisher.publish({ userIds: ['caller', 'other'] }, 'message:created', chatMessage(id, 'other'));
    await rt.publisher.publish({ userIds: ['caller'] }, 'typing:started', { serverId: 'srv-1', channelId: 'chan-1', userId: 'other' });
    await gateway.next('typing:started');
    await sleep(QUIET_MS);

    expect(gateway.eventsOf('message:created').map((created) => created.id)).toEqual(['m1', 'm2', 'm3']);
    expect(gateway.eventsOf('typing:started')).toHaveLength(1);
    expect(call.received.filter(({ event }) => !event.startsWith('voice:'))).toEqual([]);
  });
});
