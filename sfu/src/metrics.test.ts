import { RtpHeader } from 'werift';
import type { InProcessRegistry } from '@concord/registry';
import type { JoinResponse, NewConsumer, TransportOptions, VoicePermissions } from '@concord/protocol';
// Test support shared with the load tester: a real WebRTC transport (ICE, DTLS, SRTP) in Node.
import { MediaTransport } from '../../loadtest/src/client/transport';
import { metricTotal } from '@concord/testkit/src/metric-values';
import { ControlClient, opusRtpParameters, sessionOf, startTestNode } from '@concord/testkit/src/sfu';
import { eventually, sleep } from '@concord/testkit/src/wait';
import type { SfuNode } from './sfu-node';

/*
 * The SFU node's metrics against a real node: a peer sends real (SRTP) opus packets to its
 * producer with a gap in the sequence numbers, another consumes them, and the registry must show
 * the objects, the room size, the bytes, packets and the loss mediasoup saw — with no room or
 * peer id in any label.
 */

const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };
const ROOM = 'metrics-room-0123';
const SSRC = 4242;
const SENT = 120;
/** Sequence numbers skipped once in the middle of the stream: packets mediasoup must count lost. */
const GAP = 6;
/** Not 0: senders start at a random number, and mediasoup's loss count takes a stream starting at 0 for a wrap. */
const FIRST_SEQUENCE_NUMBER = 1_000;

let node: SfuNode;
let registry: InProcessRegistry;
let control: ControlClient;
const media: MediaTransport[] = [];

beforeAll(async () => {
  ({ node, registry } = await startTestNode({ workers: 1 }));
  control = await ControlClient.connect(node.controlUrl);
});

afterAll(async () => {
  for (const transport of media) await transport.close();
  control?.close();
  await node?.close();
  await registry?.close();
});

const value = (name: string, labels: Record<string, string> = {}): Promise<number> => metricTotal(node.metrics.registry, name, labels);

const join = (peerId: string): Promise<JoinResponse> =>
  control.ok('peer.join', { roomId: ROOM, peerId, sessionId: sessionOf(peerId), displayName: peerId, permissions: SPEAKER });

/** A real WebRTC transport (ICE, DTLS, SRTP) connected to the peer's SFU transport. */
async function connectedTransport(peerId: string, options: TransportOptions): Promise<MediaTransport> {
  const transport = await MediaTransport.create({ verifyEvery: 1 });
  media.push(transport);
  await control.room(ROOM, peerId, 'voice:connectTransport', { transportId: options.transportId, dtlsParameters: transport.dtlsParameters });
  await transport.connect(options);
  return transport;
}

test('objects, room sizes, capacity, bytes, packets and loss of a real call', async () => {
  const worker = { node: node.id, worker: '0' };
  expect(await value('concord_sfu_workers_running', { node: node.id })).toBe(1);
  expect(await value('concord_sfu_capacity_streams', { node: node.id })).toBe(node.config.capacity);
  expect(await value('concord_sfu_producers', { ...worker, kind: 'audio' })).toBe(0);

  await join('speaker');
  const listenerJoined = await join('listener');
  const send = await control.room<TransportOptions>(ROOM, 'speaker', 'voice:createTransport', { direction: 'send' });
  const sender = await connectedTransport('speaker', send);
  const { producerId } = await control.room<{ producerId: string }>(ROOM, 'speaker', 'voice:produce', {
    transportId: send.transportId,
    kind: 'audio',
    source: 'mic',
    rtpParameters: opusRtpParameters(SSRC),
  });
  const receiver = await connectedTransport('listener', await control.room<TransportOptions>(ROOM, 'listener', 'voice:createTransport', { direction: 'recv' }));
  await control.room(ROOM, 'listener', 'voice:setRtpCapabilities', { rtpCapabilities: listenerJoined.routerRtpCapabilities });
  const consumer: NewConsumer = await control.waitFor(ROOM, 'listener', 'voice:newConsumer', (c) => c.producerId === producerId);
  await control.room(ROOM, 'listener', 'voice:resumeConsumer', { consumerId: consumer.consumerId });

  expect(await value('concord_sfu_routers', worker)).toBe(1);
  expect(await value('concord_sfu_transports', worker)).toBe(2);
  expect(await value('concord_sfu_producers', { ...worker, kind: 'audio' })).toBe(1);
  expect(await value('concord_sfu_producers', { ...worker, kind: 'video' })).toBe(0);
  expect(await value('concord_sfu_consumers', { ...worker, kind: 'audio' })).toBe(1);
  expect(await value('concord_sfu_streams', { node: node.id })).toBe(2);
  expect(await value('concord_sfu_load_ratio', { node: node.id })).toBeCloseTo(2 / node.config.capacity, 10);
  expect(await value('concord_sfu_rooms', { ...worker, room_size: '2' })).toBe(1);
  expect(await value('concord_sfu_peers', { ...worker, room_size: '2' })).toBe(2);
  expect(await value('concord_sfu_peers', { ...worker, room_size: '1' })).toBe(0);

  // 20 ms opus frames, with GAP sequence numbers never sent halfway.
  for (let i = 0; i < SENT; i++) {
    const sequenceNumber = FIRST_SEQUENCE_NUMBER + (i < SENT / 2 ? i : i + GAP);
    sender.sendRtp(new RtpHeader({ payloadType: 100, ssrc: SSRC, sequenceNumber, timestamp: sequenceNumber * 960, marker: i === 0 }), Buffer.alloc(60, i));
    await sleep(2);
  }
  const packetsIn = { ...worker, direction: 'in', kind: 'audio' };
  // mediasoup updates its loss count as it writes a receiver report (up to 5 s apart for audio).
  await eventually(async () => {
    await node.metrics.sample();
    return (await value('concord_sfu_rtp_packets_total', packetsIn)) >= SENT && (await value('concord_sfu_rtp_packets_lost_total', packetsIn)) >= GAP;
  }, 12_000);
  expect(await value('concord_sfu_rtp_packets_total', packetsIn)).toBe(SENT);
  expect(await value('concord_sfu_rtp_packets_lost_total', packetsIn)).toBe(GAP);
  // Forwarded to the listener; it sends no receiver reports, so it reports nothing lost.
  const packetsOut = { ...worker, direction: 'out', kind: 'audio' };
  expect(await value('concord_sfu_rtp_packets_total', packetsOut)).toBe(SENT);
  expect(receiver.counters.rtpIn).toBe(SENT);
  expect(await value('concord_sfu_rtp_packets_lost_total', packetsOut)).toBe(0);
  // SRTP adds a header and tag to each 60-byte payload; DTLS and STUN add more.
  expect(await value('concord_sfu_transport_bytes_total', { ...worker, direction: 'in' })).toBeGreaterThan(SENT * 72);
  expect(await value('concord_sfu_transport_bytes_total', { ...worker, direction: 'out' })).toBeGreaterThan(0);
  expect(await value('concord_sfu_worker_cpu_seconds_total', worker)).toBeGreaterThan(0);

  // A second sample adds only what is new.
  await node.metrics.sample();
  expect(await value('concord_sfu_rtp_packets_total', packetsIn)).toBe(SENT);

  // Bounded labels: the exposition never names the room, a peer or a mediasoup object.
  const text = await node.metrics.registry.metrics();
  for (const id of [ROOM, 'speaker', 'listener', producerId, send.transportId]) expect(text).not.toContain(id);
  expect(text).toContain('process_cpu_seconds_total');

  await control.ok('peer.leave', { roomId: ROOM, peerId: 'speaker', sessionId: sessionOf('speaker') });
  expect(await value('concord_sfu_peers', { ...worker, room_size: '1' })).toBe(1);
  expect(await value('concord_sfu_producers', { ...worker, kind: 'audio' })).toBe(0);

  expect(await value('concord_sfu_draining', { node: node.id })).toBe(0);
  await node.drain();
  expect(await value('concord_sfu_draining', { node: node.id })).toBe(1);
});
