import type { Socket } from 'node:dgram';
import type { DtlsParameters, TransportOptions } from '@concord/protocol';
import {
  IceCandidate,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RTCDtlsFingerprint,
  RTCDtlsParameters,
  RTCDtlsTransport,
  RTCIceGatherer,
  RTCIceParameters,
  RTCIceTransport,
  RtcpPacketConverter,
  type RtcpPacket,
  type RtpHeader,
} from 'werift';

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

export interface TransportCounters {
  rtpIn: number;
  rtcpIn: number;
  rtpOut: number;
  rtcpOut: number;
  /** Received RTP packets fully decrypted and authenticated (a sample, see `verifyEvery`). */
  verified: number;
  /** Of those, packets whose SRTP authentication failed: a broken SFU or key mix-up. */
  verifyFailures: number;
  /** Set when ICE or DTLS went down while in use (e.g. ICE consent expired), not closed by us. */
  lost?: string;
}

export interface MediaTransportOptions {
  /**
   * Decrypt and authenticate every n-th received RTP packet (1 = all). werift's SRTP decryption
   * costs tens of µs a packet, where reading the header costs ~4 µs and the SFU spends ~10 µs
   * forwarding one, so checking every packet would make the load generator, not the SFU, the
   * bottleneck. RTP headers are in the clear, so loss, jitter and bitrate are measured on every
   * packet either way.
   */
  verifyEvery: number;
}

const GATHER_OPTIONS = {
  // Loopback only (the network rule of the project): no host interfaces, no STUN.
  useIpv4: false,
  useIpv6: false,
  additionalHostAddresses: ['127.0.0.1'],
  interfaceAddresses: { udp4: '127.0.0.1' },
};

/**
 * Receive buffer of each client socket. Linux's default (212 KB) holds a few hundred ms of a
 * participant's media; a generator descheduled on a busy machine for longer would drop packets
 * and blame the SFU for it.
 */
const RECEIVE_BUFFER_BYTES = 1 << 20;

/** Read from byte 1 of an RTCP packet: payload types 192–223 (RFC 5761 demultiplexing). */
const isRtcp = (packet: Buffer): boolean => packet[1]! >= 192 && packet[1]! <= 223;
/** RTP and RTCP start with version 2; DTLS and STUN never do. */
const isRtpOrRtcp = (packet: Buffer): boolean => packet[0]! >= 128 && packet[0]! < 192;

/**
 * A WebRTC transport the ORTC way, against one mediasoup WebRtcTransport: ICE (we control; the SFU
 * is ICE-lite), DTLS as client, SRTP with the negotiated profile, RTP/RTCP multiplexed on one
 * loopback UDP socket. No SDP: mediasoup's transport parameters are all it takes.
 */
export class MediaTransport {
  readonly counters: TransportCounters = { rtpIn: 0, rtcpIn: 0, rtpOut: 0, rtcpOut: 0, verified: 0, verifyFailures: 0 };
  readonly #ice: RTCIceTransport;
  readonly #dtls: RTCDtlsTransport;
  readonly #verifyEvery: number;
  #authTagBytes = 0;
  #rtpHandler: (arrival: RtpArrival) => void = () => undefined;
  #rtcpHandler: (packet: RtcpPacket) => void = () => undefined;
  #closed = false;

  private constructor(ice: RTCIceTransport, dtls: RTCDtlsTransport, options: MediaTransportOptions) {
    this.#ice = ice;
    this.#dtls = dtls;
    this.#verifyEvery = Math.max(1, Math.round(options.verifyEvery));
  }

  /** Gathers the local candidate and makes the DTLS identity (one certificate shared by all transports). */
  static async create(options: MediaTransportOptions): Promise<MediaTransport> {
    const gatherer = new RTCIceGatherer(GATHER_OPTIONS);
    const ice = new RTCIceTransport(gatherer);
    await gatherer.gather();
    enlargeReceiveBuffers(ice);
    await RTCDtlsTransport.SetupCertificate();
    // GCM first: cheaper than AES-CM + HMAC in werift, and mediasoup prefers it too.
    const dtls = new RTCDtlsTransport({}, ice, undefined, [ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80]);
    dtls.role = 'client';
    return new MediaTransport(ice, dtls, options);
  }

  /** What the SFU's `connectTransport` needs: our fingerprint, and that we are the DTLS client. */
  get dtlsParameters(): DtlsParameters {
    return { role: 'client', fingerprints: this.#dtls.localParameters.fingerprints.map(({ algorithm, value }) => ({ algorithm, value })) };
  }

  get connected(): boolean {
    return this.#dtls.state === 'connected' && !this.#closed;
  }

  /** ICE checks, then the DTLS handshake and SRTP keys. Call once the SFU knows our DTLS parameters. */
  async connect(remote: Pick<TransportOptions, 'iceParameters' | 'iceCandidates' | 'dtlsParameters'>): Promise<void> {
    this.#ice.connection.iceControlling = true;
    this.#ice.setRemoteParams(new RTCIceParameters({ ...remote.iceParameters, iceLite: true }));
    for (const candidate of remote.iceCandidates) {
      if (candidate.protocol !== 'udp') continue;
      await this.#ice.addRemoteCandidate(
        new IceCandidate(1, candidate.foundation, candidate.ip ?? candidate.address, candidate.port, candidate.priority, 'udp', candidate.type),
      );
    }
    await this.#ice.addRemoteCandidate(undefined);
    const fingerprints = remote.dtlsParameters.fingerprints.map(({ algorithm, value }) => new RTCDtlsFingerprint(algorithm, value));
    this.#dtls.setRemoteParams(new RTCDtlsParameters(fingerprints, 'server'));
    // Keep werift from decrypting every packet itself: we read headers and verify a sample (see
    // `verifyEvery`), so its session keys are derived by hand after the handshake instead.
    this.#dtls.srtpStarted = true;
    await this.#ice.start();
    await this.#dtls.start();
    this.#dtls.updateSrtpSession();
    this.#authTagBytes = this.#dtls.dtls?.srtp.srtpProfile === ProtectionProfileAeadAes128Gcm ? 16 : 10;
    this.#ice.connection.onData.subscribe((packet) => this.#receive(packet));
    const lost = (what: string) => {
      if (!this.#closed) this.counters.lost ??= what;
    };
    this.#ice.connection.stateChanged.subscribe((state) => {
      if (state === 'disconnected' || state === 'failed' || state === 'closed') lost(`ICE ${state}`);
    });
    this.#dtls.onStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') lost(`DTLS ${state}`);
    });
  }

  onRtp(handler: (arrival: RtpArrival) => void): void {
    this.#rtpHandler = handler;
  }

  onRtcp(handler: (packet: RtcpPacket) => void): void {
    this.#rtcpHandler = handler;
  }

  sendRtp(header: RtpHeader, payload: Buffer): void {
    if (!this.connected) return;
    this.counters.rtpOut++;
    void this.#dtls.sendRtp(payload, header);
  }

  sendRtcp(packets: RtcpPacket[]): void {
    if (!this.connected || packets.length === 0) return;
    this.counters.rtcpOut++;
    void this.#dtls.sendRtcp(packets);
  }

  /** Idempotent. Closes the socket; the SFU notices through ICE consent or the peer leaving. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dtls.stop().catch(() => undefined);
  }

  #receive(packet: Buffer): void {
    if (this.#closed || packet.length < 12 || !isRtpOrRtcp(packet)) return;
    if (isRtcp(packet)) {
      this.counters.rtcpIn++;
      let packets: RtcpPacket[];
      try {
        packets = RtcpPacketConverter.deSerialize(this.#dtls.srtcp.decrypt(packet));
      } catch {
        return;
      }
      for (const rtcp of packets) this.#rtcpHandler(rtcp);
      return;
    }
    this.counters.rtpIn++;
    if (this.counters.rtpIn % this.#verifyEvery === 0) this.#verify(packet);
    const arrival = readRtpHeader(packet, this.#authTagBytes);
    if (arrival) this.#rtpHandler(arrival);
  }

  #verify(packet: Buffer): void {
    this.counters.verified++;
    try {
      this.#dtls.srtp.decrypt(packet);
    } catch {
      this.counters.verifyFailures++;
    }
  }
}

/** werift keeps its UDP sockets inside the ICE connection's protocols; they are not part of its typed API. */
function enlargeReceiveBuffers(ice: RTCIceTransport): void {
  const { protocols } = ice.connection as unknown as { protocols?: { transport?: { socket?: Socket } }[] };
  for (const protocol of protocols ?? []) protocol.transport?.socket?.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
}

/** RFC 3550 §5.1 fixed header, CSRCs and extension skipped; undefined for a malformed packet. */
function readRtpHeader(packet: Buffer, trailerBytes: number, arrivedAt = performance.now()): RtpArrival | undefined {
  const first = packet[0]!;
  const csrcCount = first & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (first & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  // Padding is encrypted with the payload, so its length is unknown here; SFUs pad only probes.
  const payloadBytes = packet.length - offset - trailerBytes;
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
