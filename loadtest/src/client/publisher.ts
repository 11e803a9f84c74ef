import type { ProducerSource, RtpParameters } from '@concord/protocol';
import { GenericNack, RtcpPayloadSpecificFeedback, RtcpSenderInfo, RtcpSrPacket, RtcpTransportLayerFeedback, type RtcpPacket } from 'werift';
import type { Clip } from '../media/frames';
import { TrackSource, type OutgoingPacket } from '../media/track-source';
import { AUDIO_LEVEL_EXTENSION_ID, payloadTypeOf, producerParameters, type Codec } from './capabilities';
import type { MediaTransport } from './transport';

/** Packets kept per layer for answering NACKs: ~15 s of 600 kb/s video, far longer than any NACK takes. */
const HISTORY = 1_024;
/** RFC 6464 byte: voice activity set, level -30 dBov: a speaker, so the SFU's speaking observers work as in a call. */
const SPEAKING = [AUDIO_LEVEL_EXTENSION_ID, 0x80 | 30] as const;
const SENDER_REPORT_MS = 1_000;

export interface PublisherCounters {
  packetsSent: number;
  bytesSent: number;
  nacksReceived: number;
  packetsRetransmitted: number;
  keyframeRequests: number;
}

/** One simulcast layer (or the only encoding): its own SSRC, sequence space and retransmission history. */
class Layer {
  readonly ssrc = randomSsrc();
  readonly source: TrackSource;
  readonly history = new Array<OutgoingPacket | undefined>(HISTORY);
  packets = 0;
  octets = 0;
  lastTimestamp = 0;

  constructor(clip: Clip) {
    this.source = new TrackSource(clip);
  }
}

/**
 * A published track: the clip (or one clip per simulcast layer) played as RTP on the send
 * transport, answering the SFU's RTCP feedback as a browser would: PLI/FIR with the next keyframe,
 * NACK with the packet again (no RTX), and sender reports every second.
 */
export class PublishedTrack {
  readonly source: ProducerSource;
  readonly codec: Codec;
  readonly counters: PublisherCounters = { packetsSent: 0, bytesSent: 0, nacksReceived: 0, packetsRetransmitted: 0, keyframeRequests: 0 };
  readonly #layers: Layer[];
  readonly #transport: MediaTransport;
  readonly #payloadType: number;
  #lastReportAt = 0;

  /** `clips` are the layers, lowest first; one clip means no simulcast. */
  constructor(source: ProducerSource, codec: Codec, clips: Clip[], transport: MediaTransport) {
    this.source = source;
    this.codec = codec;
    this.#layers = clips.map((clip) => new Layer(clip));
    this.#transport = transport;
    this.#payloadType = payloadTypeOf(codec);
  }

  rtpParameters(cname: string): RtpParameters {
    return producerParameters(this.codec, this.#layers.map((layer) => layer.ssrc), cname);
  }

  owns(ssrc: number): boolean {
    return this.#layers.some((layer) => layer.ssrc === ssrc);
  }

  /** Sends what is due; called by the pacing clock. */
  tick(nowMs: number): void {
    for (const layer of this.#layers) {
      for (const packet of layer.source.due(nowMs)) {
        layer.history[packet.sequenceNumber % HISTORY] = packet;
        layer.packets++;
        layer.octets += packet.payload.length;
        layer.lastTimestamp = packet.timestamp;
        this.counters.packetsSent++;
        this.counters.bytesSent += packet.payload.length;
        this.#send(layer, packet);
      }
    }
    if (nowMs - this.#lastReportAt >= SENDER_REPORT_MS) {
      this.#lastReportAt = nowMs;
      this.#transport.sendRtcp(this.#layers.filter((layer) => layer.packets > 0).map(senderReport));
    }
  }

  /** Feedback about `ssrc`, one of this track's (see `mediaSsrcOf`). */
  feedback(packet: RtcpPacket, ssrc: number): void {
    const layer = this.#layers.find((candidate) => candidate.ssrc === ssrc);
    if (!layer) return;
    if (packet.type === 206) {
      this.counters.keyframeRequests++;
      layer.source.requestKeyframe();
    } else if (packet.type === 205 && packet.feedback instanceof GenericNack) {
      this.counters.nacksReceived++;
      for (const sequenceNumber of packet.feedback.lost) {
        const kept = layer.history[sequenceNumber % HISTORY];
        if (kept?.sequenceNumber !== sequenceNumber) continue;
        this.counters.packetsRetransmitted++;
        this.#send(layer, kept);
      }
    }
  }

  #send(layer: Layer, packet: OutgoingPacket): void {
    const header = {
      payloadType: this.#payloadType,
      ssrc: layer.ssrc,
      sequenceNumber: packet.sequenceNumber,
      timestamp: packet.timestamp,
      marker: packet.marker,
      ...(this.codec === 'opus' && { oneByteExtension: SPEAKING }),
    };
    this.#transport.sendRtp(header, packet.payload);
  }
}

/**
 * The media SSRC a feedback message is about (NACK, PLI, FIR); undefined for reports. werift does
 * not export its FIR class, hence the shape test.
 */
export function mediaSsrcOf(packet: RtcpPacket): number | undefined {
  if (packet instanceof RtcpTransportLayerFeedback && packet.feedback instanceof GenericNack) return packet.feedback.mediaSourceSsrc;
  if (packet instanceof RtcpPayloadSpecificFeedback) {
    const feedback = packet.feedback as { mediaSsrc?: number; fir?: { ssrc: number }[] };
    return feedback.fir?.[0]?.ssrc ?? feedback.mediaSsrc;
  }
  return undefined;
}

const NTP_EPOCH_OFFSET_S = 2_208_988_800;

function senderReport(layer: Layer): RtcpSrPacket {
  const now = Date.now();
  const seconds = BigInt(Math.floor(now / 1000) + NTP_EPOCH_OFFSET_S);
  const fraction = BigInt(Math.floor(((now % 1000) / 1000) * 0x1_0000_0000));
  return new RtcpSrPacket({
    ssrc: layer.ssrc,
    senderInfo: new RtcpSenderInfo({ ntpTimestamp: (seconds << 32n) | fraction, rtpTimestamp: layer.lastTimestamp, packetCount: layer.packets, octetCount: layer.octets }),
  });
}

export const randomSsrc = (): number => 1 + Math.floor(Math.random() * 0xffff_fffe);
