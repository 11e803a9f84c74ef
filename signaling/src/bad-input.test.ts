import type { JoinResponse, NewConsumer, TransportOptions } from '@concord/protocol';
import { io } from 'socket.io-client';
import { FINGERPRINT, opusRtpParameters } from '@concord/testkit/src/sfu';
import { SPEAKER, startHarness, type Harness } from '@concord/testkit/src/signaling';
import { errorCode, eventsOf, failure, nextEvent, ok, produceRequest, send, type ClientSocket } from '@concord/testkit/src/voice-client';
import { sleep } from '@concord/testkit/src/wait';

/*
 * One room: Alice sends her mic, Bob receives it, Sam may only speak. Each test plays a faulty or
 * hostile client and checks the typed answer, then that the socket (and the room) still work.
 * Sockets are split by concern so no test runs into another's rate limit (60 at once, 30/s).
 */

const ROOM = 'bad-input';
let h: Harness;
let alice: ClientSocket;
let bob: ClientSocket;
let sam: ClientSocket;
let aliceSend: TransportOptions;
let bobRecv: TransportOptions;
let samSend: TransportOptions;
let bobJoined: JoinResponse;
let aliceMic: string;
let bobConsumer: NewConsumer;

beforeAll(async () => {
  h = await startHarness();
  ({ socket: alice } = await h.joinedClient('alice', ROOM));
  ({ socket: bob, joined: bobJoined } = await h.joinedClient('bob', ROOM));
  ({ socket: sam } = await h.joinedClient('sam', ROOM, SPEAKER));
  aliceSend = await ok(alice, 'voice:createTransport', { direction: 'send' });
  ({ producerId: aliceMic } = await ok(alice, 'voice:produce', produceRequest(aliceSend.transportId, 'mic', 5000)));
  bobRecv = await ok(bob, 'voice:createTransport', { direction: 'recv' });
  await ok(bob, 'voice:setRtpCapabilities', { rtpCapabilities: bobJoined.routerRtpCapabilities });
  bobConsumer = await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === aliceMic);
  samSend = await ok(sam, 'voice:createTransport', { direction: 'send' });
});

afterAll(async () => {
  await h?.close();
});

/** The socket still gets real work done: Bob's consumer resumes (idempotent). */
const bobStillWorks = async () => expect(await ok(bob, 'voice:resumeConsumer', { consumerId: bobConsumer.consumerId })).toEqual({});

describe('malformed payloads are BAD_REQUEST', () => {
  test.each<[string, string, () => unknown]>([
    ['a wrong enum value', 'voice:createTransport', () => ({ direction: 'sideways' })],
    ['a wrong type', 'voice:createTransport', () => ({ direction: 7 })],
    ['a missing field', 'voice:createTransport', () => ({})],
    ['an extra field (naming another room)', 'voice:createTransport', () => ({ direction: 'recv', roomId: 'elsewhere' })],
    ['null', 'voice:createTransport', () => null],
    ['a string', 'voice:createTransport', () => 'recv'],
    ['an array', 'voice:createTransport', () => [{ direction: 'recv' }]],
    ['missing DTLS parameters', 'voice:connectTransport', () => ({ transportId: bobRecv.transportId })],
    ['no fingerprints', 'voice:connectTransport', () => ({ transportId: bobRecv.transportId, dtlsParameters: { fingerprints: [] } })],
    ['an empty id', 'voice:resumeConsumer', () => ({ consumerId: '' })],
    ['an overlong id', 'voice:resumeConsumer', () => ({ consumerId: 'x'.repeat(65) })],
    ['capabilities of the wrong shape', 'voice:setRtpCapabilities', () => ({ rtpCapabilities: { codecs: 'opus' } })],
    ['an unknown media kind', 'voice:produce', () => ({ transportId: bobRecv.transportId, kind: 'smell', source: 'mic', rtpParameters: opusRtpParameters(1) })],
    ['no codecs', 'voice:produce', () => ({ transportId: bobRecv.transportId, kind: 'audio', source: 'mic', rtpParameters: { codecs: [] } })],
    ['a grant that is not a string', 'voice:join', () => ({ grant: 42 })],
    ['a leave with options', 'voice:leave', () => ({ now: true })],
  ])('%s (%s)', async (_case, name, payload) => {
    const error = await failure(bob, name, payload());
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toContain(name);
    await bobStillWorks();
  });

  test('a request whose only argument is its ack is answered through the ack', async () => {
    // socket.io then hands the handler the ack as its first argument.
    expect(await send(bob, 'voice:leave')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await send(bob, 'voice:createTransport')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    await bobStillWorks();
  });

  test('media the SFU cannot take is BAD_REQUEST too: a mic carrying video, a codec the router lacks', async () => {
    expect(await errorCode(sam, 'voice:produce', produceRequest(samSend.transportId, 'mic', 5100, 'video'))).toBe('BAD_REQUEST');
    const unknownCodec = { ...opusRtpParameters(5101), codecs: [{ mimeType: 'audio/nonsense', payloadType: 100, clockRate: 48000 }] };
    expect(await errorCode(sam, 'voice:produce', { ...produceRequest(samSend.transportId, 'mic', 5101), rtpParameters: unknownCodec })).toBe('BAD_REQUEST');
  });
});

describe('size', () => {
  test('a payload over 16 KiB is PAYLOAD_TOO_LARGE; one just under is judged on its content', async () => {
    const carol = await h.connectClient('carol');
    const huge = await failure(carol, 'voice:createTransport', { direction: 'recv', padding: 'x'.repeat(16 * 1024) });
    expect(huge.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await errorCode(carol, 'voice:join', { grant: 'x'.repeat(20_000) })).toBe('PAYLOAD_TOO_LARGE');
    expect(await errorCode(carol, 'voice:createTransport', { direction: 'recv', padding: 'x'.repeat(15 * 1024) })).toBe('BAD_REQUEST');
    // Still served: Carol can join.
    expect(await ok(carol, 'voice:join', { grant: await h.grantFor('carol', 'size-room') })).toMatchObject({ roomId: 'size-room' });
  });
});

describe('order and ownership', () => {
  test('room requests before join are NOT_IN_ROOM', async () => {
    const olivia = await h.connectClient('olivia');
    expect(await errorCode(olivia, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    expect(await errorCode(olivia, 'voice:resumeConsumer', { consumerId: bobConsumer.consumerId })).toBe('NOT_IN_ROOM');
    expect(await errorCode(olivia, 'voice:pauseProducer', { producerId: aliceMic })).toBe('NOT_IN_ROOM');
    expect(await errorCode(olivia, 'voice:leave', {})).toBe('NOT_IN_ROOM');
    expect(await ok(olivia, 'voice:join', { grant: await h.grantFor('olivia', 'olivia-room') })).toMatchObject({ peerId: 'olivia' });
  });

  test('unknown ids and the ids of another peer are NOT_FOUND, and leave their owner undisturbed', async () => {
    const dtlsParameters = { role: 'client' as const, fingerprints: [FINGERPRINT] };
    expect(await errorCode(alice, 'voice:connectTransport', { transportId: 'no-such-transport', dtlsParameters })).toBe('NOT_FOUND');
    expect(await errorCode(alice, 'voice:connectTransport', { transportId: bobRecv.transportId, dtlsParameters })).toBe('NOT_FOUND');
    expect(await errorCode(alice, 'voice:restartIce', { transportId: bobRecv.transportId })).toBe('NOT_FOUND');
    expect(await errorCode(alice, 'voice:produce', produceRequest(samSend.transportId, 'screen-audio', 5200))).toBe('NOT_FOUND');
    expect(await errorCode(alice, 'voice:resumeConsumer', { consumerId: bobConsumer.consumerId })).toBe('NOT_FOUND');
    expect(await errorCode(alice, 'voice:pauseConsumer', { consumerId: bobConsumer.consumerId })).toBe('NOT_FOUND');
    expect(await errorCode(bob, 'voice:pauseProducer', { producerId: aliceMic })).toBe('NOT_FOUND');
    expect(await errorCode(bob, 'voice:closeProducer', { producerId: aliceMic })).toBe('NOT_FOUND');
    expect(await errorCode(bob, 'voice:closeProducer', { producerId: 'no-such-producer' })).toBe('NOT_FOUND');

    // Nothing happened to what was named: Bob's consumer of Alice's mic is neither paused nor closed.
    await sleep(50);
    expect(eventsOf(bob, 'voice:consumerPaused')).toEqual([]);
    expect(eventsOf(bob, 'voice:consumerClosed')).toEqual([]);
    await bobStillWorks();
    // Alice's transport still takes her own requests.
    expect(await ok(alice, 'voice:connectTransport', { transportId: aliceSend.transportId, dtlsParameters })).toEqual({});
  });

  test('producing video or screen without the permission is FORBIDDEN; the mic is allowed', async () => {
    const transportId = samSend.transportId;
    expect(await errorCode(sam, 'voice:produce', produceRequest(transportId, 'camera', 5300))).toBe('FORBIDDEN');
    expect(await errorCode(sam, 'voice:produce', produceRequest(transportId, 'screen', 5301))).toBe('FORBIDDEN');
    expect(await errorCode(sam, 'voice:produce', produceRequest(transportId, 'screen-audio', 5302))).toBe('FORBIDDEN');
    const { producerId } = await ok(sam, 'voice:produce', produceRequest(transportId, 'mic', 5303));
    // Bob receives only what was allowed.
    await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === producerId);
    expect(eventsOf(bob, 'voice:newConsumer').filter((c) => c.peerId === 'sam').map((c) => c.source)).toEqual(['mic']);
  });

  test('requests at the wrong time are OUT_OF_ORDER', async () => {
    // Sam has no recv transport yet.
    expect(await errorCode(sam, 'voice:setRtpCapabilities', { rtpCapabilities: bobJoined.routerRtpCapabilities })).toBe('OUT_OF_ORDER');
    // Producing on a recv transport.
    expect(await errorCode(bob, 'voice:produce', produceRequest(bobRecv.transportId, 'mic', 5400))).toBe('OUT_OF_ORDER');
    // A second mic.
    expect(await errorCode(alice, 'voice:produce', produceRequest(aliceSend.transportId, 'mic', 5401))).toBe('OUT_OF_ORDER');
    await ok(sam, 'voice:createTransport', { direction: 'recv' });
    expect(await ok(sam, 'voice:setRtpCapabilities', { rtpCapabilities: bobJoined.routerRtpCapabilities })).toEqual({});
  });
});

describe('requests without an ack', () => {
  const emitWithoutAck = (socket: ClientSocket, name: string, payload: unknown) =>
    (socket.emit as unknown as (name: string, payload: unknown) => void)(name, payload);

  test('are answered with protocol:error, and not carried out', async () => {
    const nora = await h.connectClient('nora');
    emitWithoutAck(nora, 'voice:createTransport', { direction: 'up' });
    expect(await nextEvent(nora, 'protocol:error')).toEqual({
      event: 'voice:createTransport',
      code: 'BAD_REQUEST',
      message: expect.stringContaining('direction'),
    });

    // A valid join without an ack is refused too: a client that cannot hear the answer must not be placed in a room.
    emitWithoutAck(nora, 'voice:join', { grant: await h.grantFor('nora', ROOM) });
    expect(await nextEvent(nora, 'protocol:error', (e) => e.event === 'voice:join')).toEqual({
      event: 'voice:join',
      code: 'BAD_REQUEST',
      message: expect.stringContaining('acknowledgement'),
    });
    await sleep(100);
    expect(eventsOf(bob, 'voice:peerJoined').map((e) => e.peer.peerId)).not.toContain('nora');
    expect(await errorCode(nora, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    // With an ack the same join works.
    expect(await ok(nora, 'voice:join', { grant: await h.grantFor('nora', ROOM) })).toMatchObject({ peerId: 'nora' });
  });
});

describe('a flood', () => {
  test('is rate limited, the rest of the room is unaffected, and the flooder recovers', async () => {
    const { socket: fred } = await h.joinedClient('fred', ROOM);
    const flood = Array.from({ length: 300 }, () => send(fred, 'voice:pauseConsumer', { consumerId: 'no-such-consumer' }));

    // Meanwhile the others talk: Alice pauses and resumes her mic, Bob hears of it and works his consumer.
    const started = Date.now();
    const pausesBefore = eventsOf(bob, 'voice:consumerPaused').length;
    const resumesBefore = eventsOf(bob, 'voice:consumerResumed').length;
    await ok(alice, 'voice:pauseProducer', { producerId: aliceMic });
    await nextEvent(bob, 'voice:consumerPaused', () => eventsOf(bob, 'voice:consumerPaused').length > pausesBefore);
    await ok(bob, 'voice:pauseConsumer', { consumerId: bobConsumer.consumerId });
    await ok(bob, 'voice:resumeConsumer', { consumerId: bobConsumer.consumerId });
    await ok(alice, 'voice:resumeProducer', { producerId: aliceMic });
    await nextEvent(bob, 'voice:consumerResumed', () => eventsOf(bob, 'voice:consumerResumed').length > resumesBefore);
    expect(Date.now() - started).toBeLessThan(2_000);

    // Every flood request is answered: served (NOT_FOUND) up to the burst, RATE_LIMITED beyond.
    const codes = (await Promise.all(flood)).map((result) => (result.ok ? 'ok' : result.error.code));
    const count = (code: string) => codes.filter((c) => c === code).length;
    expect(count('NOT_FOUND') + count('RATE_LIMITED')).toBe(300);
    expect(count('RATE_LIMITED')).toBeGreaterThanOrEqual(200);
    expect(count('NOT_FOUND')).toBeGreaterThan(0);

    // After a pause the bucket has refilled.
    await sleep(500);
    expect(await ok(fred, 'voice:createTransport', { direction: 'recv' })).toMatchObject({ direction: 'recv' });
  });
});

describe('requests sent to the wrong namespace', () => {
  test('a voice request on the real-time namespace is BAD_REQUEST naming /voice, and joins nothing', async () => {
    const token = await h.sessionToken('rita');
    const gateway: ClientSocket = io(h.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        gateway.once('connect', resolve);
        gateway.once('connect_error', reject);
      });
      const error = await failure(gateway, 'voice:join', { grant: await h.grantFor('rita', ROOM) });
      expect(error).toEqual({ code: 'BAD_REQUEST', message: 'voice:join is served on the /voice namespace' });
      expect(h.signaling.sessions.nodeOfPeer(ROOM, 'rita')).toBeUndefined();
    } finally {
      gateway.close();
    }
  });

  test('a real-time request on the voice namespace is BAD_REQUEST naming /, and the socket still works', async () => {
    expect(await failure(sam, 'presence:set', { status: 'idle' })).toEqual({ code: 'BAD_REQUEST', message: 'presence:set is served on the / namespace' });
    expect(await ok(sam, 'voice:createTransport', { direction: 'recv' })).toMatchObject({ direction: 'recv' });
  });
});
