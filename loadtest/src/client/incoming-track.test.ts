import type { NewConsumer } from '@concord/protocol';
import { FREEZE_MS, IncomingTrack } from './incoming-track';
import type { RtpArrival } from './transport';

const consumer = (kind: 'audio' | 'video'): NewConsumer => ({
  consumerId: 'c1',
  producerId: 'p1',
  peerId: 'peer',
  kind,
  source: kind === 'audio' ? 'mic' : 'camera',
  rtpParameters: { codecs: [{ mimeType: kind === 'audio' ? 'audio/opus' : 'video/VP8', payloadType: 100, clockRate: kind === 'audio' ? 48_000 : 90_000 }], encodings: [{ ssrc: 1234 }] },
  producerPaused: false,
});

/** Video at 30 fps, one packet per frame: sequence n is sent at n × 33.3 ms with timestamp n × 3000. */
const packet = (sequenceNumber: number, arrivedAt = (sequenceNumber - 65_530) * (1000 / 30), timestamp = (sequenceNumber - 65_530) * 3000): RtpArrival => ({
  ssrc: 1234,
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp: timestamp >>> 0,
  marker: true,
  payloadType: 100,
  payloadBytes: 1000,
  arrivedAt,
});

describe('IncomingTrack', () => {
  test('counts loss from sequence gaps across the 16-bit wrap, NACKs each hole once, and a retransmission fills it', () => {
    const track = new IncomingTrack(consumer('video'), 0);
    for (const sequence of [65_530, 65_531, 65_532]) expect(track.receive(packet(sequence))).toEqual([]);
    // 65533..65535 and 0 are lost: one NACK names them, with 16-bit numbers.
    expect(track.receive(packet(65_537))).toEqual([65_533, 65_534, 65_535, 0]);
    expect(track.counters).toMatchObject({ packets: 4, expected: 8, nacksSent: 1, nackedPackets: 4 });
    track.receive(packet(65_534));
    track.receive(packet(65_534));
    expect(track.counters).toMatchObject({ packets: 5, expected: 8, duplicates: 1 });
    expect(track.receiverReport(1_000)).toMatchObject({ packetsLost: 3, highestSequence: 65_537, fractionLost: Math.floor((3 * 256) / 8) });
  });

  test('gives up on a hole after a while and asks for a keyframe, at most once a second', () => {
    const track = new IncomingTrack(consumer('video'), 0);
    track.receive(packet(65_530, 0));
    track.receive(packet(65_532, 10));
    expect(track.maintain(100)).toBe(false);
    expect(track.maintain(400)).toBe(true);
    track.receive(packet(65_534, 500));
    expect(track.maintain(900)).toBe(false);
    expect(track.counters.plisSent).toBe(1);
  });

  test('audio loss is never answered with a keyframe request', () => {
    const track = new IncomingTrack(consumer('audio'), 0);
    track.receive(packet(65_530, 0));
    track.receive(packet(65_540, 10));
    expect(track.maintain(1_000)).toBe(false);
  });

  test('a gap of more than 500 ms in video is a freeze', () => {
    const track = new IncomingTrack(consumer('video'), 0);
    track.receive(packet(65_530, 0));
    track.receive(packet(65_531, 33));
    track.receive(packet(65_532, 33 + FREEZE_MS + 100));
    expect(track.counters.freezes).toBe(1);
    expect(track.counters.freezeMs).toBeCloseTo(FREEZE_MS + 100);
  });

  test('jitter follows RFC 3550: zero for perfectly paced packets, the smoothed deviation otherwise', () => {
    const steady = new IncomingTrack(consumer('video'), 0);
    for (let i = 0; i < 50; i++) steady.receive(packet(65_530 + i));
    expect(steady.jitterMs).toBeCloseTo(0, 5);
    const bumpy = new IncomingTrack(consumer('video'), 0);
    // Every other packet 10 ms late: each difference is 10 ms, so jitter converges to 10 ms.
    for (let i = 0; i < 400; i++) bumpy.receive(packet(65_530 + i, i * (1000 / 30) + (i % 2) * 10));
    expect(bumpy.jitterMs).toBeGreaterThan(9.5);
    expect(bumpy.jitterMs).toBeLessThan(10.5);
  });
});
