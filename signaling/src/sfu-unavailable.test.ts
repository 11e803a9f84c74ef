import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { errorCode, eventsOf, failure, nextEvent, ok, produceRequest, request, type ClientSocket } from '@concord/testkit/src/voice-client';
import { eventually, sleep } from '@concord/testkit/src/wait';

/** Bob receiving, Alice sending her mic, in `room`. */
async function roomWithAudio(h: Harness, room: string): Promise<{ alice: ClientSocket; bob: ClientSocket }> {
  const { socket: bob, joined } = await h.joinedClient('bob', room);
  await ok(bob, 'voice:createTransport', { direction: 'recv' });
  await ok(bob, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  const { socket: alice } = await h.joinedClient('alice', room);
  const { transportId } = await ok(alice, 'voice:createTransport', { direction: 'send' });
  const { producerId } = await ok(alice, 'voice:produce', produceRequest(transportId, 'mic', 9001));
  await nextEvent(bob, 'voice:newConsumer', (c) => c.producerId === producerId);
  return { alice, bob };
}

/** A join's error and how long it took to come. */
async function timedJoinFailure(h: Harness, socket: ClientSocket, userId: string, room: string) {
  const grant = await h.grantFor(userId, room);
  const started = Date.now();
  const error = await failure(socket, 'voice:join', { grant });
  return { error, elapsed: Date.now() - started };
}

describe('an SFU node that closes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sfu: { workers: 1 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('closes its rooms for their clients, once; joins then answer UNAVAILABLE at once', async () => {
    const { alice, bob } = await roomWithAudio(h, 'closing');
    const idle = await h.connectClient('idle');

    await h.node.close();
    for (const socket of [alice, bob]) expect(await nextEvent(socket, 'voice:roomClosed')).toMatchObject({ roomId: 'closing' });
    await sleep(100);
    for (const socket of [alice, bob]) expect(eventsOf(socket, 'voice:roomClosed')).toHaveLength(1);
    expect(eventsOf(idle, 'voice:roomClosed')).toEqual([]);

    expect(await errorCode(alice, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
    const { error, elapsed } = await timedJoinFailure(h, alice, 'alice', 'closing');
    expect(error.code).toBe('UNAVAILABLE');
    expect(elapsed).toBeLessThan(500);
    // Signaling itself is fine: the sockets stay connected and answered.
    expect(idle.connected && alice.connected && bob.connected).toBe(true);
  });
});

describe('an SFU node cut off from signaling', () => {
  const TIMEOUT_MS = 1_000;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sfu: { workers: 1 }, signaling: { sfuRequestTimeoutMs: TIMEOUT_MS }, proxyControl: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('closes its rooms for their clients; joins fail within the request timeout until it is back', async () => {
    const { alice, bob } = await roomWithAudio(h, 'partition');

    // The node says nothing: its connection just goes, as with a crashed host.
    await h.proxy!.cut();
    for (const socket of [alice, bob]) {
      expect(await nextEvent(socket, 'voice:roomClosed')).toEqual({ roomId: 'partition', reason: 'SFU node unavailable' });
    }
    expect(await errorCode(bob, 'voice:resumeConsumer', { consumerId: 'any' })).toBe('NOT_IN_ROOM');

    // The cut proxy refuses connections, as a dead node's host would: signaling probed the node,
    // removed it from the registry, and joins fail at once until its heartbeat registers it again.
    const { error, elapsed } = await timedJoinFailure(h, alice, 'alice', 'partition');
    expect(['UNAVAILABLE', 'TIMEOUT']).toContain(error.code);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 500);

    // Back on the network: the control connection returns and the clients rejoin.
    await h.proxy!.restore();
    const grant = await h.grantFor('alice', 'partition');
    await eventually(async () => (await request(alice, 'voice:join', { grant })).ok, 6_000);
    expect((await ok(bob, 'voice:join', { grant: await h.grantFor('bob', 'partition') })).peerId).toBe('bob');
    const { transportId } = await ok(alice, 'voice:createTransport', { direction: 'send' });
    expect(await ok(alice, 'voice:produce', produceRequest(transportId, 'mic', 9002))).toMatchObject({ producerId: expect.any(String) });
  });
});

describe('an SFU node that refuses signaling', () => {
  const TIMEOUT_MS = 3_000;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sfu: { workers: 1 }, signaling: { sfuSecret: 'not-the-cluster-secret', sfuRequestTimeoutMs: TIMEOUT_MS } });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('(a wrong shared secret) makes joins UNAVAILABLE without waiting out the timeout', async () => {
    const alice = await h.connectClient('alice');
    for (let attempt = 0; attempt < 2; attempt++) {
      const { error, elapsed } = await timedJoinFailure(h, alice, 'alice', 'refused');
      expect(error.code).toBe('UNAVAILABLE');
      expect(elapsed).toBeLessThan(TIMEOUT_MS / 2);
    }
  });
});
