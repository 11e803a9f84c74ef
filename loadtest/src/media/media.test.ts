import { splitNalUnits } from './annexb';
import type { Clip, Frame } from './frames';
import { loopDuration } from './ivf';
import { opusPacketSamples } from './ogg';
import { MAX_PAYLOAD_BYTES, packetizerFor } from './packetizer';
import { TrackSource } from './track-source';

const frame = (size: number, keyframe: boolean, rtpTime: number, fill = 1): Frame => ({ data: Buffer.alloc(size, fill), keyframe, rtpTime });

/** 3 fps VP8: a keyframe, two deltas, a keyframe, two deltas (2 s). */
function vp8Clip(): Clip {
  const frames = [0, 1, 2, 3, 4, 5].map((index) => frame(index % 3 === 0 ? 3000 : 500, index % 3 === 0, index * 30_000, index + 1));
  return { codec: 'vp8', clockRate: 90_000, frames, duration: loopDuration(frames) };
}

describe('TrackSource', () => {
  test('sends frames when due, with sequence numbers and timestamps that continue across loops', () => {
    const clip = vp8Clip();
    const source = new TrackSource(clip);
    const first = source.due(0);
    // Only the first frame is due at start; a 3000-byte keyframe needs three packets.
    expect(first).toHaveLength(3);
    expect(first.map((p) => p.marker)).toEqual([false, false, true]);
    const all = [...first, ...source.due(2_000 + 1_000 / 3 - 1)];
    // Six frames of the first loop, then the first frame of the second (due at exactly 2 s).
    const timestamps = [...new Set(all.map((p) => p.timestamp))];
    expect(timestamps).toHaveLength(7);
    const base = timestamps[0]!;
    expect(timestamps.map((t) => (t - base + 0x1_0000_0000) % 0x1_0000_0000)).toEqual([0, 30_000, 60_000, 90_000, 120_000, 150_000, 180_000]);
    for (let i = 1; i < all.length; i++) expect(all[i]!.sequenceNumber).toBe((all[i - 1]!.sequenceNumber + 1) & 0xffff);
  });

  test('answers a keyframe request with the next keyframe, keeping time going as if it were encoded now', () => {
    const source = new TrackSource(vp8Clip());
    source.due(0); // frame 0 (key)
    source.requestKeyframe();
    source.requestKeyframe();
    const next = source.due(1_000 / 3);
    // Frame 3 (the next keyframe) is sent in place of frame 1: three packets, at frame 1's time.
    expect(next).toHaveLength(3);
    expect(next[0]!.payload.subarray(4, 5)[0]).toBe(4);
    // Both requests were answered by that one keyframe: frame 4 (a delta frame) follows.
    expect(source.due(2_000 / 3)).toHaveLength(1);
  });

  test('catches up a stalled caller a few frames at a time', () => {
    const source = new TrackSource(vp8Clip());
    source.due(0);
    const frames = new Set(source.due(10_000, 2).map((p) => p.timestamp));
    expect(frames.size).toBe(2);
  });
});

describe('packetizers', () => {
  test('VP8: payloads within the MTU, start bit on the first, a PictureID that counts frames', () => {
    const packetizer = packetizerFor(vp8Clip());
    const first = packetizer.packetize(frame(3000, true, 0));
    const second = packetizer.packetize(frame(100, false, 3000));
    expect(first.every((payload) => payload.length <= MAX_PAYLOAD_BYTES)).toBe(true);
    expect(first.map((payload) => payload[0])).toEqual([0x90, 0x80, 0x80]);
    expect(Buffer.concat(first.map((payload) => payload.subarray(4)))).toEqual(Buffer.alloc(3000, 1));
    const pictureId = (payload: Buffer) => payload.readUInt16BE(2) & 0x7fff;
    expect(pictureId(second[0]!)).toBe((pictureId(first[0]!) + 1) & 0x7fff);
  });

  test('H.264: small NAL units alone, large ones as FU-A fragments that reassemble', () => {
    const big = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 7)]);
    const small = Buffer.from([0x67, 1, 2, 3]);
    const annexB = Buffer.concat([Buffer.from([0, 0, 0, 1]), small, Buffer.from([0, 0, 1]), big]);
    expect(splitNalUnits(annexB)).toEqual([small, big]);
    const clip: Clip = { codec: 'h264', clockRate: 90_000, frames: [frame(1, true, 0)], duration: 3000 };
    const payloads = packetizerFor(clip).packetize({ data: annexB, keyframe: true, rtpTime: 0 });
    expect(payloads[0]).toEqual(small);
    const fragments = payloads.slice(1);
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.every((payload) => (payload[0]! & 0x1f) === 28 && payload.length <= MAX_PAYLOAD_BYTES)).toBe(true);
    expect(fragments[0]![1]! & 0x80).toBe(0x80);
    expect(fragments.at(-1)![1]! & 0x40).toBe(0x40);
    const rebuilt = Buffer.concat([Buffer.from([(fragments[0]![0]! & 0xe0) | (fragments[0]![1]! & 0x1f)]), ...fragments.map((payload) => payload.subarray(2))]);
    expect(rebuilt).toEqual(big);
  });

  test('Opus frame durations come from the TOC byte', () => {
    // Config 9: SILK wideband 20 ms; code 0: one frame. Config 11: the same at 60 ms.
    expect(opusPacketSamples(Buffer.from([9 << 3]))).toBe(960);
    expect(opusPacketSamples(Buffer.from([11 << 3]))).toBe(2880);
    // Config 31: CELT fullband 20 ms; code 1: two frames.
    expect(opusPacketSamples(Buffer.from([(31 << 3) | 1]))).toBe(1920);
  });
});
