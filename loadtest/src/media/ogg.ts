import type { Clip, Frame } from './frames';

const OPUS_CLOCK = 48_000;

/**
 * Reads the Opus packets of an Ogg file (RFC 3533 pages, RFC 7845 mapping). The first two packets
 * are the OpusHead and OpusTags headers; the rest are audio, each of a duration read from its TOC
 * byte (RFC 6716 §3.1), so timestamps advance exactly as an encoder's would.
 */
export function parseOggOpus(file: Buffer): Clip {
  const packets = oggPackets(file);
  if (packets[0]?.toString('ascii', 0, 8) !== 'OpusHead') throw new Error('not an Ogg Opus file');
  const frames: Frame[] = [];
  let rtpTime = 0;
  for (const data of packets.slice(2)) {
    frames.push({ data, keyframe: true, rtpTime });
    rtpTime += opusPacketSamples(data);
  }
  if (frames.length < 2) throw new Error('the Ogg Opus file holds no audio');
  return { codec: 'opus', clockRate: OPUS_CLOCK, frames, duration: rtpTime };
}

function oggPackets(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let pending: Buffer[] = [];
  let offset = 0;
  while (offset + 27 <= file.length) {
    if (file.toString('ascii', offset, offset + 4) !== 'OggS') throw new Error(`no Ogg page at byte ${offset}`);
    const segments = file[offset + 26]!;
    const table = file.subarray(offset + 27, offset + 27 + segments);
    let body = offset + 27 + segments;
    for (const lacing of table) {
      pending.push(file.subarray(body, body + lacing));
      body += lacing;
      // A lacing value below 255 ends a packet; 255 means it continues (possibly on the next page).
      if (lacing < 255) {
        packets.push(Buffer.concat(pending));
        pending = [];
      }
    }
    offset = body;
  }
  return packets;
}

/** Samples at 48 kHz in one Opus packet: frame size from the TOC configuration times the frame count. */
export function opusPacketSamples(packet: Buffer): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  const frameSamples =
    config < 12 ? [480, 960, 1920, 2880][config % 4]! : config < 16 ? [480, 960][config % 2]! : [120, 240, 480, 960][config % 4]!;
  const code = toc & 0x03;
  const frameCount = code === 0 ? 1 : code === 3 ? (packet[1] ?? 0) & 0x3f : 2;
  return frameSamples * frameCount;
}
