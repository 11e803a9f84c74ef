/** RTP headers read and written by hand: per packet, werift's header objects cost more than the SFU's forwarding. */

/** The parts of an RTP header a receiver looks at, read without decrypting the packet. */
export interface RtpArrival {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payloadType: number;
  /** Bytes of media payload: the packet minus RTP header and SRTP tag (padding is encrypted, so counted). */
  payloadBytes: number;
  /** performance.now() when it arrived. */
  arrivedAt: number;
}

/** What the publisher puts in an RTP header. */
export interface RtpHeaderFields {
  payloadType: number;
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  /** RFC 8285 one-byte extension carrying one byte (RFC 6464's audio level): [id, value]. */
  oneByteExtension?: readonly [id: number, value: number];
}

/** RTP and RTCP start with version 2; DTLS and STUN never do (RFC 7983). */
export const isRtpOrRtcp = (packet: Buffer): boolean => packet[0]! >= 128 && packet[0]! < 192;
/** Read from byte 1 of an RTCP packet: payload types 192–223 (RFC 5761 demultiplexing). */
export const isRtcp = (packet: Buffer): boolean => packet[1]! >= 192 && packet[1]! <= 223;

/** Bytes of the RTP header with its CSRCs and extension; undefined when the packet is shorter than that. */
export function rtpHeaderLength(packet: Buffer): number | undefined {
  const first = packet[0]!;
  let length = 12 + (first & 0x0f) * 4;
  if (first & 0x10) {
    if (packet.length < length + 4) return undefined;
    length += 4 + packet.readUInt16BE(length + 2) * 4;
  }
  return packet.length < length ? undefined : length;
}

/** RFC 3550 §5.1 fixed header, CSRCs and extension skipped; undefined for a malformed packet. */
export function readRtpHeader(packet: Buffer, trailerBytes: number, arrivedAt = performance.now()): RtpArrival | undefined {
  const headerBytes = rtpHeaderLength(packet);
  if (headerBytes === undefined) return undefined;
  // Padding is encrypted with the payload, so its length is unknown here; SFUs pad only probes.
  const payloadBytes = packet.length - headerBytes - trailerBytes;
  if (payloadBytes < 0) return undefined;
  return {
    ssrc: packet.readUInt32BE(8),
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    marker: (packet[1]! & 0x80) !== 0,
    payloadType: packet[1]! & 0x7f,
    payloadBytes,
    arrivedAt,
  };
}

/** A fresh buffer (it is handed to the socket, which may still hold it after returning). */
export function writeRtpHeader(fields: RtpHeaderFields): Buffer {
  const extension = fields.oneByteExtension;
  const header = Buffer.allocUnsafe(extension ? 20 : 12);
  header[0] = extension ? 0x90 : 0x80;
  header[1] = (fields.marker ? 0x80 : 0) | fields.payloadType;
  header.writeUInt16BE(fields.sequenceNumber, 2);
  header.writeUInt32BE(fields.timestamp >>> 0, 4);
  header.writeUInt32BE(fields.ssrc >>> 0, 8);
  if (extension) {
    // 0xBEDE profile, one 32-bit word: the element (ID, length - 1 = 0, value) and padding.
    header.writeUInt32BE(0xbede_0001, 12);
    header[16] = extension[0] << 4;
    header[17] = extension[1];
    header[18] = 0;
    header[19] = 0;
  }
  return header;
}
