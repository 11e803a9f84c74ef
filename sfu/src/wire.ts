import type { DtlsParameters, RtpCapabilities, RtpParameters } from '@concord/protocol';
import type { types } from 'mediasoup';

/*
 * The protocol schemas and mediasoup describe the same objects, but differ in how tightly they
 * type leaves: mediasoup narrows URIs and fingerprint algorithms to unions and leaves codec
 * parameters `unknown`, the schemas bound strings and scalars. Crossing is therefore a cast, kept
 * here so it happens in one place: inbound values are schema-checked and then judged by mediasoup
 * itself (see withClientInput), outbound values are mediasoup's own output.
 */

export const toMediasoup = {
  rtpParameters: (parameters: RtpParameters) => parameters as types.RtpParameters,
  rtpCapabilities: (capabilities: RtpCapabilities) => capabilities as types.RtpCapabilities,
  dtlsParameters: (parameters: DtlsParameters) => parameters as types.DtlsParameters,
};

export const toWire = {
  rtpParameters: (parameters: types.RtpParameters) => parameters as RtpParameters,
  rtpCapabilities: (capabilities: types.RtpCapabilities) => capabilities as RtpCapabilities,
};
