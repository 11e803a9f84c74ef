import { z } from 'zod';

/*
 * Structural schemas for the mediasoup objects that cross the wire. They bound sizes and shapes at
 * the boundary; mediasoup itself validates the semantics (a bad codec is its TypeError, mapped to
 * BAD_REQUEST by the SFU).
 */
const id = z.string().min(1).max(64);
const shortText = z.string().max(256);
const scalar = z.union([z.string().max(256), z.number(), z.boolean()]);
const parameters = z.record(z.string().max(64), scalar).refine((p) => Object.keys(p).length <= 32, 'too many parameters');

export const MediaKind = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKind>;

const RtcpFeedback = z.object({ type: z.string().max(32), parameter: z.string().max(32).optional() });

const RtpCodecCapability = z.object({
  kind: MediaKind,
  mimeType: z.string().max(64),
  preferredPayloadType: z.number().int().min(0).max(127).optional(),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().max(8).optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(RtcpFeedback).max(16).optional(),
});

const RtpHeaderExtension = z.object({
  kind: MediaKind,
  uri: z.string().max(256),
  preferredId: z.number().int().min(1).max(255),
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const RtpCapabilities = z.object({
  codecs: z.array(RtpCodecCapability).max(64).optional(),
  headerExtensions: z.array(RtpHeaderExtension).max(64).optional(),
});
export type RtpCapabilities = z.infer<typeof RtpCapabilities>;

const RtpCodecParameters = z.object({
  mimeType: z.string().max(64),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().max(8).optional(),
  parameters: parameters.optional(),
  rtcpFeedback: z.array(RtcpFeedback).max(16).optional(),
});

const RtpEncoding = z.object({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().optional(),
  rtx: z.object({ ssrc: z.number().int().nonnegative() }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  scaleResolutionDownBy: z.number().positive().optional(),
  maxBitrate: z.number().positive().optional(),
  maxFramerate: z.number().positive().optional(),
  adaptivePtime: z.boolean().optional(),
  priority: z.string().max(16).optional(),
  networkPriority: z.string().max(16).optional(),
  active: z.boolean().optional(),
});

export const RtpParameters = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodecParameters).min(1).max(32),
  headerExtensions: z
    .array(z.object({ uri: z.string().max(256), id: z.number().int(), encrypt: z.boolean().optional(), parameters: parameters.optional() }))
    .max(32)
    .optional(),
  encodings: z.array(RtpEncoding).max(8).optional(),
  rtcp: z.object({ cname: shortText.optional(), reducedSize: z.boolean().optional(), mux: z.boolean().optional() }).optional(),
  msid: z.string().max(256).optional(),
});
export type RtpParameters = z.infer<typeof RtpParameters>;

export const DtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(z.object({ algorithm: z.string().max(16), value: z.string().max(256) })).min(1).max(8),
});
export type DtlsParameters = z.infer<typeof DtlsParameters>;

export const IceParameters = z.object({ usernameFragment: z.string(), password: z.string(), iceLite: z.boolean().optional() });
export type IceParameters = z.infer<typeof IceParameters>;

export const IceCandidate = z.object({
  foundation: z.string(),
  priority: z.number(),
  address: z.string(),
  ip: z.string().optional(),
  protocol: z.enum(['udp', 'tcp']),
  port: z.number(),
  type: z.enum(['host', 'srflx', 'prflx', 'relay']),
  tcpType: z.enum(['passive', 'active', 'so']).optional(),
});
export type IceCandidate = z.infer<typeof IceCandidate>;

export const EntityId = id;
