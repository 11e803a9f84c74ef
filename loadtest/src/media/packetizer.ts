import { splitNalUnits } from './annexb';
import type { Clip, Frame } from './frames';

/** Largest RTP payload we send: well under a 1500-byte MTU after RTP, SRTP and UDP/IP headers. */
export const MAX_PAYLOAD_BYTES = 1_200;

/** Splits one coded frame into RTP payloads; the last carries the marker bit for video. */
export interface Packetizer {
  packetize(frame: Frame): Buffer[];
}

export function packetizerFor(clip: Clip): Packetizer {
  switch (clip.codec) {
    case 'opus':
      return { packetize: (frame) => [frame.data] };
    case 'vp8':
      return new Vp8Packetizer();
    case 'h264':
      return { packetize: (frame) => splitNalUnits(frame.data).flatMap(h264Payloads) };
  }
}

/**
 * RFC 7741 payloads with a 15-bit PictureID, as browsers send them: the SFU rewrites PictureIDs when
 * it switches simulcast layers, so a stream without them is not what it normally handles.
 */
class Vp8Packetizer implements Packetizer {
  #pictureId = Math.floor(Math.random() * 0x8000);

  packetize(frame: Frame): Buffer[] {
    const pictureId = this.#pictureId;
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    const room = MAX_PAYLOAD_BYTES - 4;
    const payloads: Buffer[] = [];
    for (let offset = 0; offset < frame.data.length; offset += room) {
      const descriptor = Buffer.from([
        // X (extension present), S (start of partition 0) on the first packet only.
        offset === 0 ? 0x90 : 0x80,
        // I: PictureID present.
        0x80,
        0x80 | (pictureId >> 8),
        pictureId & 0xff,
      ]);
      payloads.push(Buffer.concat([descriptor, frame.data.subarray(offset, offset + room)]));
    }
    return payloads;
  }
}

const FU_A = 28;

/** RFC 6184 packetization mode 1: a NAL unit that fits goes alone, a larger one as FU-A fragments. */
function h264Payloads(nal: Buffer): Buffer[] {
  if (nal.length <= MAX_PAYLOAD_BYTES) return [nal];
  const header = nal[0]!;
  const indicator = (header & 0xe0) | FU_A;
  const type = header & 0x1f;
  const room = MAX_PAYLOAD_BYTES - 2;
  const payloads: Buffer[] = [];
  for (let offset = 1; offset < nal.length; offset += room) {
    const start = offset === 1 ? 0x80 : 0;
    const end = offset + room >= nal.length ? 0x40 : 0;
    payloads.push(Buffer.concat([Buffer.from([indicator, start | end | type]), nal.subarray(offset, offset + room)]));
  }
  return payloads;
}
