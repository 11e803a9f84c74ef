import type { Clip, Frame } from './frames';

const FILE_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 12;
const VIDEO_CLOCK = 90_000;

/**
 * Reads an IVF file (what ffmpeg's `-f ivf` writes for VP8): a 32-byte header with the time base,
 * then frames each with a 12-byte header (size, 64-bit timestamp in time-base units).
 */
export function parseIvf(file: Buffer): Clip {
  if (file.length < FILE_HEADER_BYTES || file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const fourcc = file.toString('ascii', 8, 12);
  if (fourcc !== 'VP80') throw new Error(`IVF holds ${fourcc}; only VP8 is supported`);
  const rate = file.readUInt32LE(16);
  const scale = file.readUInt32LE(20);
  const frames: Frame[] = [];
  let offset = file.readUInt16LE(6);
  while (offset + FRAME_HEADER_BYTES <= file.length) {
    const size = file.readUInt32LE(offset);
    const pts = Number(file.readBigUInt64LE(offset + 4));
    const data = file.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + size);
    if (data.length !== size) break;
    // VP8 frame tag, RFC 6386 §9.1: bit 0 of the first byte is 0 for key frames.
    frames.push({ data, keyframe: (data[0]! & 0x01) === 0, rtpTime: Math.round((pts * scale * VIDEO_CLOCK) / rate) });
    offset += FRAME_HEADER_BYTES + size;
  }
  return { codec: 'vp8', clockRate: VIDEO_CLOCK, frames, duration: loopDuration(frames) };
}

/** The last frame lasts as long as the one before it, so the loop keeps the clip's frame rate. */
export function loopDuration(frames: readonly Frame[]): number {
  const last = frames.at(-1);
  const before = frames.at(-2);
  if (!last || !before) throw new Error('a clip needs at least two frames');
  return last.rtpTime + (last.rtpTime - before.rtpTime);
}
