import type { RtpCapabilities, RtpParameters } from '@concord/protocol';

/**
 * What the synthetic client sends and accepts, in mediasoup's terms. Video asks for NACK and
 * keyframe requests (PLI, FIR) like a browser; no RTX, transport-cc or REMB, so the SFU forwards at
 * the publisher's rate without bandwidth estimation and retransmits on the media SSRC.
 */

const VIDEO_FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];
const H264_PARAMETERS = { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 };
/** RFC 6464: the SFU's audio-level and active-speaker observers read it, as they would from browsers. */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
export const AUDIO_LEVEL_EXTENSION_ID = 1;

const PAYLOAD_TYPES = { opus: 100, vp8: 101, h264: 102 } as const;
export type Codec = keyof typeof PAYLOAD_TYPES;

export const RECEIVE_CAPABILITIES: RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48_000, channels: 2, preferredPayloadType: PAYLOAD_TYPES.opus },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90_000, preferredPayloadType: PAYLOAD_TYPES.vp8, rtcpFeedback: VIDEO_FEEDBACK },
    { kind: 'video', mimeType: 'video/H264', clockRate: 90_000, preferredPayloadType: PAYLOAD_TYPES.h264, parameters: H264_PARAMETERS, rtcpFeedback: VIDEO_FEEDBACK },
  ],
  headerExtensions: [],
};

export const payloadTypeOf = (codec: Codec): number => PAYLOAD_TYPES[codec];

/** The producer's parameters: one encoding per SSRC, lowest layer first when simulcasting. */
export function producerParameters(codec: Codec, ssrcs: number[], cname: string): RtpParameters {
  const payloadType = payloadTypeOf(codec);
  const codecParameters =
    codec === 'opus'
      ? { mimeType: 'audio/opus', payloadType, clockRate: 48_000, channels: 2, parameters: { useinbandfec: 1 } }
      : codec === 'vp8'
        ? { mimeType: 'video/VP8', payloadType, clockRate: 90_000, rtcpFeedback: VIDEO_FEEDBACK }
        : { mimeType: 'video/H264', payloadType, clockRate: 90_000, parameters: H264_PARAMETERS, rtcpFeedback: VIDEO_FEEDBACK };
  return {
    codecs: [codecParameters],
    headerExtensions: codec === 'opus' ? [{ uri: AUDIO_LEVEL_URI, id: AUDIO_LEVEL_EXTENSION_ID }] : [],
    encodings: ssrcs.map((ssrc) => ({ ssrc })),
    rtcp: { cname, reducedSize: true },
  };
}
