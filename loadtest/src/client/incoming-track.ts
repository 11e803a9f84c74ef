import type { MediaKind, NewConsumer, ProducerSource } from '@concord/protocol';
import { RtcpReceiverInfo, type RtcpSrPacket } from 'werift';
import type { RtpArrival } from './transport';

/** A gap in video arrivals longer than this is a freeze a viewer would notice. */
export const FREEZE_MS = 500;
/** A packet still missing this long after its NACK is given up on (and, for video, a keyframe asked for). */
const GIVE_UP_MS = 300;
const PLI_INTERVAL_MS = 1_000;
/** Bound on remembered holes: a jump larger than this is a stream reset, not loss to repair. */
const MAX_MISSING = 512;
/** What nearly every packet answers (in order, nothing missing): one array, not one per packet. */
const NO_HOLES: readonly number[] = [];

/** Counters of one received track; windows are differences of two of these. */
export interface IncomingCounters {
  packets: number;
  /** Media payload bytes (RTP headers and SRTP tags excluded). */
  bytes: number;
  /** Packets the sequence numbers say were sent: highest - first + 1. */
  expected: number;
  duplicates: number;
  freezes: number;
  freezeMs: number;
  nacksSent: number;
  nackedPackets: number;
  plisSent: number;
}

/**
 * What a subscriber measures of one consumer, from RTP headers as they arrive: loss from sequence
 * gaps (RFC 3550 A.3, with retransmissions filling holes), interarrival jitter (A.8), freezes, and
 * the RTCP feedback it sends for them — NACK for each hole at once, PLI when video lost a packet for
 * good, receiver reports every second.
 */
export class IncomingTrack {
  readonly consumerId: string;
  readonly producerId: string;
  readonly peerId: string;
  readonly kind: MediaKind;
  readonly source: ProducerSource;
  readonly ssrc: number;
  readonly clockRate: number;
  /** performance.now() when the consumer was announced, and when its first packet came. */
  readonly announcedAt: number;
  firstPacketAt: number | undefined;
  lastArrivalAt: number | undefined;
  readonly counters: IncomingCounters = { packets: 0, bytes: 0, expected: 0, duplicates: 0, freezes: 0, freezeMs: 0, nacksSent: 0, nackedPackets: 0, plisSent: 0 };
  /** RFC 3550 interarrival jitter in RTP clock units. */
  #jitter = 0;
  #lastTransit: number | undefined;
  #firstSequence = 0;
  #highestSequence = 0;
  /** Extended sequence numbers not yet received, with when they went missing. */
  readonly #missing = new Map<number, number>();
  #lastPliAt = -Infinity;
  /** For the fraction lost of the next receiver report. */
  #reported = { expected: 0, packets: 0 };
  #lastSenderReport: { ntpMiddle: number; receivedAt: number } | undefined;
  closed = false;

  constructor(consumer: NewConsumer, announcedAt = performance.now()) {
    const encoding = consumer.rtpParameters.encodings?.[0];
    const codec = consumer.rtpParameters.codecs[0];
    if (encoding?.ssrc === undefined || !codec) throw new Error(`consumer ${consumer.consumerId} has no SSRC or codec`);
    this.consumerId = consumer.consumerId;
    this.producerId = consumer.producerId;
    this.peerId = consumer.peerId;
    this.kind = consumer.kind;
    this.source = consumer.source;
    this.ssrc = encoding.ssrc;
    this.clockRate = codec.clockRate;
    this.announcedAt = announcedAt;
  }

  get jitterMs(): number {
    return (this.#jitter * 1000) / this.clockRate;
  }

  /** Records a packet; answers the sequence numbers to NACK now (a hole just opened), if any. */
  receive(arrival: RtpArrival): readonly number[] {
    const counters = this.counters;
    if (this.firstPacketAt === undefined) {
      this.firstPacketAt = arrival.arrivedAt;
      this.#firstSequence = this.#highestSequence = arrival.sequenceNumber;
      this.#accept(arrival);
      counters.expected = 1;
      return NO_HOLES;
    }
    const delta = ((arrival.sequenceNumber - this.#highestSequence + 0x8000) & 0xffff) - 0x8000;
    const extended = this.#highestSequence + delta;
    if (delta <= 0) {
      // Late or retransmitted: it counts only if it fills a hole.
      if (this.#missing.delete(extended)) this.#accept(arrival, false);
      else counters.duplicates++;
      return NO_HOLES;
    }
    let holes = NO_HOLES;
    if (delta > 1 && delta <= MAX_MISSING) {
      const opened: number[] = [];
      for (let sequence = this.#highestSequence + 1; sequence < extended; sequence++) {
        this.#missing.set(sequence, arrival.arrivedAt);
        opened.push(sequence & 0xffff);
      }
      counters.nacksSent++;
      counters.nackedPackets += opened.length;
      holes = opened;
    }
    this.#highestSequence = extended;
    counters.expected = extended - this.#firstSequence + 1;
    this.#accept(arrival);
    return holes;
  }

  /** Gives up on old holes; true when a keyframe should be requested now (rate-limited). */
  maintain(nowMs: number): boolean {
    let gaveUp = false;
    for (const [sequence, since] of this.#missing) {
      if (nowMs - since < GIVE_UP_MS && this.#missing.size <= MAX_MISSING) break;
      this.#missing.delete(sequence);
      gaveUp = true;
    }
    if (!gaveUp || this.kind !== 'video' || nowMs - this.#lastPliAt < PLI_INTERVAL_MS) return false;
    this.#lastPliAt = nowMs;
    this.counters.plisSent++;
    return true;
  }

  senderReport(report: RtcpSrPacket, receivedAt: number): void {
    this.#lastSenderReport = { ntpMiddle: Number((report.senderInfo.ntpTimestamp >> 16n) & 0xffff_ffffn), receivedAt };
  }

  /** RFC 3550 §6.4.1 report block for this stream; undefined before its first packet. */
  receiverReport(nowMs: number): RtcpReceiverInfo | undefined {
    if (this.firstPacketAt === undefined) return undefined;
    const { expected, packets } = this.counters;
    const expectedInterval = expected - this.#reported.expected;
    const lostInterval = expectedInterval - (packets - this.#reported.packets);
    this.#reported = { expected, packets };
    const sr = this.#lastSenderReport;
    return new RtcpReceiverInfo({
      ssrc: this.ssrc,
      fractionLost: expectedInterval > 0 && lostInterval > 0 ? Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)) : 0,
      packetsLost: Math.max(0, expected - packets),
      highestSequence: this.#highestSequence >>> 0,
      jitter: Math.round(this.#jitter),
      lsr: sr?.ntpMiddle ?? 0,
      dlsr: sr ? Math.round(((nowMs - sr.receivedAt) / 1000) * 65_536) : 0,
    });
  }

  #accept(arrival: RtpArrival, inOrder = true): void {
    const counters = this.counters;
    counters.packets++;
    counters.bytes += arrival.payloadBytes;
    if (!inOrder) return;
    if (this.kind === 'video' && this.lastArrivalAt !== undefined) {
      const gap = arrival.arrivedAt - this.lastArrivalAt;
      if (gap > FREEZE_MS) {
        counters.freezes++;
        counters.freezeMs += gap;
      }
    }
    this.lastArrivalAt = arrival.arrivedAt;
    // RFC 3550 A.8, with arrival time in RTP clock units; only in-order packets, like libwebrtc.
    const transit = (arrival.arrivedAt * this.clockRate) / 1000 - arrival.timestamp;
    if (this.#lastTransit !== undefined) {
      let difference = Math.abs(transit - this.#lastTransit);
      // A timestamp wrap shows up as a jump of 2^32 in transit.
      if (difference > 0x8000_0000) difference = Math.abs(difference - 0x1_0000_0000);
      this.#jitter += (difference - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }
}
