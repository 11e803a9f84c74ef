import type { Clip, Frame } from './frames';

const VIDEO_CLOCK = 90_000;
const NAL_IDR = 5;
const NAL_AUD = 9;

/**
 * Reads an H.264 Annex B stream whose access units each begin with an access unit delimiter
 * (ffmpeg's `h264_metadata=aud=insert`), as frames of NAL units joined by 4-byte start codes.
 * Raw H.264 carries no timestamps, so frames are spaced by the frame rate it was encoded at.
 */
export function parseAnnexB(file: Buffer, framesPerSecond: number): Clip {
  const units: Buffer[][] = [];
  for (const nal of splitNalUnits(file)) {
    if ((nal[0]! & 0x1f) === NAL_AUD) units.push([]);
    else units.at(-1)?.push(nal);
  }
  const step = VIDEO_CLOCK / framesPerSecond;
  const frames: Frame[] = units
    .filter((nals) => nals.length > 0)
    .map((nals, index) => ({
      data: joinNalUnits(nals),
      keyframe: nals.some((nal) => (nal[0]! & 0x1f) === NAL_IDR),
      rtpTime: Math.round(index * step),
    }));
  if (frames.length < 2) throw new Error('the H.264 stream holds no access units (was it encoded with AUDs?)');
  return { codec: 'h264', clockRate: VIDEO_CLOCK, frames, duration: Math.round(frames.length * step) };
}

const START_CODE = Buffer.from([0, 0, 0, 1]);

/** A frame's NAL units as one buffer, each preceded by a start code, as the packetizer splits them again. */
const joinNalUnits = (nals: Buffer[]): Buffer => Buffer.concat(nals.flatMap((nal) => [START_CODE, nal]));

/** The NAL units of an Annex B buffer (3- or 4-byte start codes), without their start codes. */
export function splitNalUnits(stream: Buffer): Buffer[] {
  const starts: { at: number; length: number }[] = [];
  for (let i = 0; i + 2 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) {
      const four = i > 0 && stream[i - 1] === 0;
      starts.push({ at: four ? i - 1 : i, length: four ? 4 : 3 });
      i += 2;
    }
  }
  return starts
    .map((start, index) => stream.subarray(start.at + start.length, starts[index + 1]?.at ?? stream.length))
    .filter((nal) => nal.length > 0);
}
