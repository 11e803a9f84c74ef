import { DISPLACED_REASON, SOURCE_KIND, type NewConsumer, type ProducerSource, type TransportDirection, type TransportOptions } from '@concord/protocol';
import { GenericNack, PictureLossIndication, RtcpPayloadSpecificFeedback, RtcpRrPacket, RtcpSrPacket, RtcpTransportLayerFeedback, type RtcpPacket } from 'werift';
import type { PacingClock } from '../media/clock';
import type { Clip } from '../media/frames';
import { RECEIVE_CAPABILITIES, type Codec } from './capabilities';
import type { ConnectControl, RoomControl } from './control';
import { IncomingTrack } from './incoming-track';
import { mediaSsrcOf, PublishedTrack, randomSsrc } from './publisher';
import { MediaTransport, type TransportCounters } from './transport';

/** Who a participant is and what it sends; everyone receives everything in their room. */
export interface ParticipantPlan {
  userName: string;
  roomId: string;
  publish: ProducerSource[];
  /** The tracks it should receive once everyone of its room publishes: the others' sources. */
  expects: ProducerSource[];
}

/** The media a source publishes: its codec and clips (more than one: simulcast layers, lowest first). */
export type MediaFor = (source: ProducerSource) => { codec: Codec; clips: Clip[] };

/** performance.now() of each step of joining; absent until reached. */
export interface JoinTimeline {
  startedAt: number;
  /** Signaling connected (authenticated socket). */
  connectedAt?: number;
  /** `voice:join` answered. */
  joinedAt?: number;
  /** Every transport's ICE and DTLS done: media can flow. */
  transportsConnectedAt?: number;
  /** Every source produced. */
  publishedAt?: number;
  failedAt?: number;
  error?: string;
}

/** A rejoin after the room closed under the participant (its SFU node died or drained). */
export interface Rejoin {
  reason: string;
  /** performance.now() when the room closed, and when the participant had joined again (transports connected, published). */
  closedAt: number;
  rejoinedAt?: number;
  error?: string;
}

const MAINTAIN_MS = 100;
const RECEIVER_REPORT_MS = 1_000;
/** RFC 3550 caps a report at 31 blocks. */
const MAX_REPORT_BLOCKS = 31;

export interface ParticipantOptions {
  connect: ConnectControl;
  media: MediaFor;
  clock: PacingClock;
  /** See MediaTransport: decrypt and authenticate every n-th received packet. */
  verifyEvery: number;
}

/**
 * One synthetic participant: joins through a RoomControl, publishes its sources over a werift send
 * transport, receives every other participant's tracks over a recv transport and measures them.
 */
export class Participant {
  readonly plan: ParticipantPlan;
  readonly timeline: JoinTimeline = { startedAt: performance.now() };
  readonly tracks = new Map<string, IncomingTrack>();
  readonly published: PublishedTrack[] = [];
  /** Every rejoin, in order; the tracks received since are those announced after its closedAt. */
  readonly rejoins: Rejoin[] = [];
  readonly #options: ParticipantOptions;
  readonly #bySsrc = new Map<number, IncomingTrack>();
  readonly #rtcpSsrc = randomSsrc();
  readonly #transports: MediaTransport[] = [];
  #recv: MediaTransport | undefined;
  #control: RoomControl | undefined;
  #stopTicking: (() => void) | undefined;
  #lastMaintain = 0;
  #lastReport = 0;
  #stopped = false;
  /** What joining is doing now: says where a participant that never finished got stuck. */
  #step = 'connecting to signaling';

  constructor(plan: ParticipantPlan, options: ParticipantOptions) {
    this.plan = plan;
    this.#options = options;
  }

  get failed(): boolean {
    return this.timeline.error !== undefined;
  }

  /** Joins and publishes; never throws: a failure is recorded in the timeline, as a result. */
  async start(): Promise<void> {
    try {
      await this.#join();
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  get step(): string {
    return this.#step;
  }

  /** Records the first reason this participant did not make it. */
  fail(reason: string): void {
    this.timeline.failedAt ??= performance.now();
    this.timeline.error ??= reason;
  }

  transportCounters(): TransportCounters[] {
    return this.#transports.map((transport) => transport.counters);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopTicking?.();
    await this.#control?.close();
    await Promise.all(this.#transports.map((transport) => transport.close()));
  }

  async #join(): Promise<void> {
    const { plan, timeline } = this;
    const control = await this.#options.connect(plan.userName, plan.roomId);
    this.#control = control;
    if (this.#stopped) return;
    timeline.connectedAt = performance.now();
    control.on('voice:newConsumer', (consumer) => void this.#consume(consumer));
    control.on('voice:consumerClosed', ({ consumerId }) => this.#forget(consumerId));
    control.on('voice:roomClosed', ({ reason }) => void this.#rejoin(reason));
    await this.#enter(timeline);
  }

  /**
   * As the web client does: a room that closed under us (its node died or drains) is joined again
   * at once with a fresh grant, on whichever node signaling places it now; being displaced by
   * another session of the same user is final.
   */
  async #rejoin(reason: string): Promise<void> {
    if (this.#stopped || reason === DISPLACED_REASON || this.failed) return this.fail(`room closed: ${reason}`);
    const rejoin: Rejoin = { reason, closedAt: performance.now() };
    this.rejoins.push(rejoin);
    this.#stopTicking?.();
    this.#recv = undefined;
    for (const track of this.#bySsrc.values()) track.closed = true;
    this.#bySsrc.clear();
    this.published.length = 0;
    const transports = this.#transports.splice(0);
    await Promise.all(transports.map((transport) => transport.close()));
    try {
      await this.#enter({ startedAt: rejoin.closedAt });
      rejoin.rejoinedAt = performance.now();
    } catch (error) {
      rejoin.error = error instanceof Error ? error.message : String(error);
      this.fail(`rejoin failed: ${rejoin.error}`);
    }
  }

  /** Joins the room, connects the transports, publishes and asks for everyone's media; records each step in `timeline`. */
  async #enter(timeline: JoinTimeline): Promise<void> {
    const { plan } = this;
    const control = this.#control!;
    this.#step = 'voice:join';
    await control.join();
    timeline.joinedAt = performance.now();

    this.#step = 'creating transports';
    const recv = await this.#transport('recv');
    const send = plan.publish.length > 0 ? await this.#transport('send') : undefined;
    this.#step = 'ICE and DTLS';
    await Promise.all([recv, send].filter((pending) => pending !== undefined).map(({ transport, remote }) => transport.connect(remote)));
    timeline.transportsConnectedAt = performance.now();
    this.#recv = recv.transport;
    recv.transport.onRtp((arrival) => {
      const track = this.#bySsrc.get(arrival.ssrc);
      if (!track) return;
      const holes = track.receive(arrival);
      if (holes.length > 0) this.#feedback([new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: this.#rtcpSsrc, mediaSourceSsrc: track.ssrc, lost: [...holes] }) })]);
    });
    recv.transport.onRtcp((packet) => {
      if (packet instanceof RtcpSrPacket) this.#bySsrc.get(packet.ssrc)?.senderReport(packet, performance.now());
    });
    this.#stopTicking = this.#options.clock.add((now) => this.#tick(now));

    if (send) {
      this.#step = 'producing';
      send.transport.onRtcp((packet) => this.#publisherFeedback(packet));
      for (const source of plan.publish) await this.#produce(source, send.transport, send.remote.transportId);
      timeline.publishedAt = performance.now();
    }
    this.#step = 'voice:setRtpCapabilities';
    await control.request('voice:setRtpCapabilities', { rtpCapabilities: RECEIVE_CAPABILITIES });
    this.#step = 'joined';
  }

  /** Asks the SFU for a transport and tells it our DTLS identity; connecting is left to the caller. */
  async #transport(direction: TransportDirection): Promise<{ transport: MediaTransport; remote: TransportOptions }> {
    const control = this.#control!;
    const remote = await control.request('voice:createTransport', { direction });
    const transport = await MediaTransport.create({ verifyEvery: this.#options.verifyEvery });
    this.#transports.push(transport);
    await control.request('voice:connectTransport', { transportId: remote.transportId, dtlsParameters: transport.dtlsParameters });
    return { transport, remote };
  }

  async #produce(source: ProducerSource, transport: MediaTransport, transportId: string): Promise<void> {
    const { codec, clips } = this.#options.media(source);
    const track = new PublishedTrack(source, codec, clips, transport);
    await this.#control!.request('voice:produce', { transportId, kind: SOURCE_KIND[source], source, rtpParameters: track.rtpParameters(this.plan.userName) });
    this.published.push(track);
  }

  async #consume(consumer: NewConsumer): Promise<void> {
    const track = new IncomingTrack(consumer);
    this.tracks.set(consumer.consumerId, track);
    this.#bySsrc.set(track.ssrc, track);
    // Consumers start paused so no packet is lost before the receiver is ready; it is now.
    await this.#control?.request('voice:resumeConsumer', { consumerId: consumer.consumerId }).catch(() => undefined);
  }

  #forget(consumerId: string): void {
    const track = this.tracks.get(consumerId);
    if (!track) return;
    track.closed = true;
    this.#bySsrc.delete(track.ssrc);
  }

  #tick(now: number): void {
    for (const track of this.published) track.tick(now);
    if (now - this.#lastMaintain < MAINTAIN_MS) return;
    this.#lastMaintain = now;
    const keyframeRequests: RtcpPacket[] = [];
    for (const track of this.#bySsrc.values()) {
      if (track.maintain(now)) {
        keyframeRequests.push(new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: this.#rtcpSsrc, mediaSsrc: track.ssrc }) }));
      }
    }
    this.#feedback(keyframeRequests);
    if (now - this.#lastReport >= RECEIVER_REPORT_MS) {
      this.#lastReport = now;
      const blocks = [...this.#bySsrc.values()].map((track) => track.receiverReport(now)).filter((block) => block !== undefined);
      for (let i = 0; i < blocks.length; i += MAX_REPORT_BLOCKS) {
        this.#feedback([new RtcpRrPacket({ ssrc: this.#rtcpSsrc, reports: blocks.slice(i, i + MAX_REPORT_BLOCKS) })]);
      }
    }
  }

  #feedback(packets: RtcpPacket[]): void {
    this.#recv?.sendRtcp(packets);
  }

  #publisherFeedback(packet: RtcpPacket): void {
    const ssrc = mediaSsrcOf(packet);
    if (ssrc === undefined) return;
    this.published.find((track) => track.owns(ssrc))?.feedback(packet, ssrc);
  }
}
