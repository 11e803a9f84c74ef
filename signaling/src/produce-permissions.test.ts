import { VOICE_NAMESPACE, type NewConsumer, type ProducerSource, type Result, type RtpParameters, type VoicePermissions } from '@concord/protocol';
import { QUIET_MS, startRealtime, type RealtimeClient, type RealtimeSetup } from '@concord/testkit/src/realtime';
import { opusRtpParameters, vp8RtpParameters } from '@concord/testkit/src/sfu';
import { eventually, sleep } from '@concord/testkit/src/wait';

/*
 * What a peer may send follows what it sends, not the label it puts on it: audio needs SPEAK and
 * video needs VIDEO whatever the source says; screen sources need STREAM on top, and screen audio
 * only goes with the same peer's live screen video. Played against real signaling and a real SFU,
 * by a client that sends whatever it likes.
 */

const ALL: VoicePermissions = { speak: true, video: true, screen: true };
/** A channel that denies SPEAK and VIDEO but allows STREAM. */
const STREAM_ONLY: VoicePermissions = { speak: false, video: false, screen: true };

let rt: RealtimeSetup;
let ssrc = 71_000;

beforeAll(async () => {
  rt = await startRealtime({ mode: 'in-process', sfu: true });
});
afterAll(async () => {
  await rt?.close();
});

/** A client of `userId` in `room`, with a send transport, and receiving everything the room sends. */
async function inRoom(userId: string, room: string, permissions: VoicePermissions): Promise<{ client: RealtimeClient; sendTransport: string }> {
  const client = await rt.connect(0, userId, VOICE_NAMESPACE);
  const joined = await client.ok<{ routerRtpCapabilities: unknown }>('voice:join', { grant: await rt.grantFor(userId, room, permissions) });
  const { transportId: sendTransport } = await client.ok<{ transportId: string }>('voice:createTransport', { direction: 'send' });
  await client.ok('voice:createTransport', { direction: 'recv' });
  await client.ok('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  return { client, sendTransport };
}

const KIND = { mic: 'audio', 'screen-audio': 'audio', camera: 'video', screen: 'video' } as const;

function produce(client: RealtimeClient, transportId: string, source: ProducerSource, overrides: { kind?: string; rtpParameters?: RtpParameters } = {}): Promise<Result<unknown>> {
  const kind = overrides.kind ?? KIND[source];
  const rtpParameters = overrides.rtpParameters ?? (kind === 'audio' ? opusRtpParameters(++ssrc) : vp8RtpParameters(++ssrc));
  return client.send('voice:produce', { transportId, kind, source, rtpParameters });
}

async function produced(client: RealtimeClient, transportId: string, source: ProducerSource): Promise<string> {
  const result = await produce(client, transportId, source);
  if (!result.ok) throw new Error(`producing ${source} failed: ${result.error.code} ${result.error.message}`);
  return (result.data as { producerId: string }).producerId;
}

const consumersFrom = (listener: RealtimeClient, peerId: string): NewConsumer[] =>
  listener.received.filter((r) => r.event === 'voice:newConsumer').map((r) => r.data as NewConsumer).filter((c) => c.peerId === peerId);

const closedConsumers = (listener: RealtimeClient): string[] =>
  listener.received.filter((r) => r.event === 'voice:consumerClosed').map((r) => (r.data as { producerId: string }).producerId);

const closedProducers = (client: RealtimeClient): { producerId: string; reason: string }[] =>
  client.received.filter((r) => r.event === 'voice:producerClosed').map((r) => r.data as { producerId: string; reason: string });

test('with only STREAM, no audio and no video reaches listeners, whatever the label', async () => {
  const room = 'label-attack';
  const { client: listener } = await inRoom('listener', room, ALL);
  const { client: mallory, sendTransport } = await inRoom('mallory', room, STREAM_ONLY);

  // Video labelled as a screen needs VIDEO as well: the SFU cannot tell a camera from a screen.
  expect(await produce(mallory, sendTransport, 'screen')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringContaining('video') } });
  // Audio labelled as screen audio needs SPEAK as well: listeners would hear it like a microphone.
  expect(await produce(mallory, sendTransport, 'screen-audio')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringContaining('speak') } });
  expect(await produce(mallory, sendTransport, 'mic')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  expect(await produce(mallory, sendTransport, 'camera')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

  await sleep(QUIET_MS);
  expect(consumersFrom(listener, 'mallory')).toEqual([]);
});

test('screen audio goes only with the same peer’s live screen video, once, and closes with it', async () => {
  const room = 'screen-audio-bound';
  const { client: listener } = await inRoom('viewer', room, ALL);
  const { client: alice, sendTransport } = await inRoom('alice', room, ALL);

  // Screen audio alone (a microphone by another name) is refused, and nobody receives anything.
  expect(await produce(alice, sendTransport, 'screen-audio')).toMatchObject({ ok: false, error: { code: 'OUT_OF_ORDER', message: expect.stringContaining('screen') } });
  await sleep(QUIET_MS);
  expect(consumersFrom(listener, 'alice')).toEqual([]);

  const screen = await produced(alice, sendTransport, 'screen');
  const screenAudio = await produced(alice, sendTransport, 'screen-audio');
  // One screen audio per screen: a second is refused.
  expect(await produce(alice, sendTransport, 'screen-audio')).toMatchObject({ ok: false, error: { code: 'OUT_OF_ORDER' } });
  await eventually(() => consumersFrom(listener, 'alice').length === 2);
  expect(consumersFrom(listener, 'alice').map((c) => [c.source, c.kind, c.producerId]).sort()).toEqual(
    [
      ['screen', 'video', screen],
      ['screen-audio', 'audio', screenAudio],
    ].sort(),
  );

  // The client ends its screen share: its audio ends with it, for the listener and for the client.
  expect(await alice.send('voice:closeProducer', { producerId: screen })).toEqual({ ok: true, data: {} });
  expect(await alice.nextOf('voice:producerClosed')).toEqual({ producerId: screenAudio, reason: 'the screen it goes with closed' });
  await eventually(() => closedConsumers(listener).length === 2);
  expect(closedConsumers(listener).sort()).toEqual([screen, screenAudio].sort());
  expect(await alice.send('voice:closeProducer', { producerId: screenAudio })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  // And it cannot come back without a new screen share.
  expect(await produce(alice, sendTransport, 'screen-audio')).toMatchObject({ ok: false, error: { code: 'OUT_OF_ORDER' } });
});

test('a label that does not match what is sent is refused', async () => {
  const { client: eve, sendTransport } = await inRoom('eve', 'label-mismatch', ALL);
  const refusals = [
    await produce(eve, sendTransport, 'mic', { kind: 'video' }),
    await produce(eve, sendTransport, 'camera', { kind: 'audio' }),
    // The declared kind and source agree, but the codecs are of the other kind.
    await produce(eve, sendTransport, 'mic', { rtpParameters: vp8RtpParameters(++ssrc) }),
    await produce(eve, sendTransport, 'camera', { rtpParameters: opusRtpParameters(++ssrc) }),
  ];
  for (const refusal of refusals) expect(refusal).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  // The peer is unharmed: honest requests still work.
  await produced(eve, sendTransport, 'mic');
  await produced(eve, sendTransport, 'camera');
});

test('a live permission change closes what is no longer allowed, screen audio with its screen', async () => {
  const room = 'live-change';
  const { client: listener } = await inRoom('audience', room, ALL);
  const { client: bob, sendTransport } = await inRoom('bob', room, ALL);
  const ids = {} as Record<ProducerSource, string>;
  for (const source of ['mic', 'camera', 'screen', 'screen-audio'] as const) ids[source] = await produced(bob, sendTransport, source);
  await eventually(() => consumersFrom(listener, 'bob').length === 4);

  // SPEAK goes: every audio goes, the screen's too; the video stays.
  await rt.publisher.setVoicePermissions('bob', room, { speak: false, video: true, screen: true });
  await eventually(() => closedProducers(bob).length === 2);
  expect(closedProducers(bob).sort(byId)).toEqual(
    [
      { producerId: ids.mic, reason: 'permission revoked' },
      { producerId: ids['screen-audio'], reason: 'permission revoked' },
    ].sort(byId),
  );
  await eventually(() => closedConsumers(listener).length === 2);
  expect(closedConsumers(listener).sort()).toEqual([ids.mic, ids['screen-audio']].sort());
  expect(await produce(bob, sendTransport, 'screen-audio')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

  // SPEAK back, screen audio again; then VIDEO goes: camera and screen go, and the screen's audio with them.
  await rt.publisher.setVoicePermissions('bob', room, ALL);
  await bob.nextOf('voice:permissionsChanged', (data) => (data as { permissions: VoicePermissions }).permissions.speak);
  ids['screen-audio'] = await produced(bob, sendTransport, 'screen-audio');
  await rt.publisher.setVoicePermissions('bob', room, { speak: true, video: false, screen: true });
  await eventually(() => closedProducers(bob).length === 5);
  expect(closedProducers(bob).slice(2).map((c) => c.producerId).sort()).toEqual([ids.camera, ids.screen, ids['screen-audio']].sort());
  await eventually(() => closedConsumers(listener).length === 5);
  expect(closedConsumers(listener)).toEqual(expect.arrayContaining([ids.camera, ids.screen, ids['screen-audio']]));
  // Each producer was closed, and reported, once.
  expect(new Set(closedProducers(bob).map((c) => c.producerId)).size).toBe(5);
  await sleep(QUIET_MS);
  expect(closedProducers(bob)).toHaveLength(5);
});

const byId = (a: { producerId: string }, b: { producerId: string }): number => a.producerId.localeCompare(b.producerId);
