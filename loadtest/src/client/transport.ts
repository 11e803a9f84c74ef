import type { RemoteInfo, Socket } from 'node:dgram';
import type { DtlsParameters, TransportOptions } from '@concord/protocol';
import {
  IceCandidate,
  ProtectionProfileAeadAes128Gcm,
  RTCDtlsFingerprint,
  RTCDtlsParameters,
  RTCDtlsTransport,
  RTCIceGatherer,
  RTCIceParameters,
  RTCIceTransport,
  RtcpPacketConverter,
  type RtcpPacket,
} from 'werift';
import { isRtcp, isRtpOrRtcp, readRtpHeader, writeRtpHeader, type RtpArrival, type RtpHeaderFields } from './rtp-packet';
import { GCM_TAG_BYTES, SrtpGcm } from './srtp-gcm';

export type { RtpArrival } from './rtp-packet';

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
   * Decrypt and authenticate every n-th received RTP packet (1 = all). Decryption costs several
   * µs a packet, where reading the header costs well under one and the SFU spends ~7–10 µs
   * forwarding it, so checking every packet would make the load generator, not the SFU, the
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


/**
 * A WebRTC transport the ORTC way, against one mediasoup WebRtcTransport: ICE (we control; the SFU
 * is ICE-lite), DTLS as client, SRTP with AEAD_AES_128_GCM, RTP/RTCP multiplexed on one loopback
 * UDP socket. No SDP: mediasoup's transport parameters are all it takes.
 *
 * werift does ICE, DTLS and RTCP; media takes a path of its own once connected, because werift's
 * per-packet work (a STUN parse attempt and two event dispatches per datagram received, a header
 * object, two copies and a DNS-style address lookup per packet sent) cost the generator about
 * twice what the SFU spends forwarding the packet. The socket is connected to the SFU's address,
 * RTP is encrypted by `SrtpGcmEncryptor` and sent as header, ciphertext and tag in one datagram,
 * and received RTP/RTCP is taken off the socket before werift sees it (STUN and DTLS still go to
 * werift, which keeps ICE consent alive).
 */
export class MediaTransport {
  readonly counters: TransportCounters = { rtpIn: 0, rtcpIn: 0, rtpOut: 0, rtcpOut: 0, verified: 0, verifyFailures: 0 };
  readonly #ice: RTCIceTransport;
  readonly #dtls: RTCDtlsTransport;
  readonly #verifyEvery: number;
  #socket: Socket | undefined;
  /** Our session keys (sending) and the SFU's (checking a sample of what arrives). */
  #srtp: { local: SrtpGcm; remote: SrtpGcm } | undefined;
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
    // GCM only: one cipher call per packet (AES-CM would add an HMAC), and mediasoup prefers it too.
    const dtls = new RTCDtlsTransport({}, ice, undefined, [ProtectionProfileAeadAes128Gcm]);
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
    const { localContext: ours, remoteContext: theirs } = this.#dtls.srtp;
    this.#srtp = { local: new SrtpGcm(ours.srtpSessionKey, ours.srtpSessionSalt), remote: new SrtpGcm(theirs.srtpSessionKey, theirs.srtpSessionSalt) };
    await this.#takeOverMedia();
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

  sendRtp(header: RtpHeaderFields, payload: Buffer): void {
    if (!this.connected) return;
    this.counters.rtpOut++;
    try {
      this.#socket!.send(this.#srtp!.local.encrypt(writeRtpHeader(header), payload));
    } catch (error) {
      // The socket went away under us (werift closed it on ICE failure): the same as a lost transport.
      this.counters.lost ??= error instanceof Error ? error.message : String(error);
    }
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
    if (this.#closed || packet.length < 12) return;
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
    const arrival = readRtpHeader(packet, GCM_TAG_BYTES);
    if (arrival) this.#rtpHandler(arrival);
  }

  #verify(packet: Buffer): void {
    this.counters.verified++;
    if (!this.#srtp!.remote.authenticates(packet)) this.counters.verifyFailures++;
  }

  /**
   * Connects the nominated pair's socket to the SFU and puts our media handling in front of
   * werift's. Connected, the kernel routes datagrams without an address per send, and Node skips
   * its address lookup; werift's own sends (STUN consent checks, DTLS alerts, RTCP) go through
   * its transport's `send`, which must then leave the address out.
   */
  async #takeOverMedia(): Promise<void> {
    const pair = this.#ice.connection.nominated;
    if (!pair) throw new Error('ICE completed without a nominated pair');
    const udp = (pair.protocol as unknown as { transport?: UdpTransport }).transport;
    if (!udp?.socket) throw new Error('the nominated ICE pair has no UDP socket');
    const { socket } = udp;
    const [address, port] = pair.remoteAddr;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    udp.send = async (data) => {
      socket.send(data);
    };
    // Connected, the socket hears ICMP too: "port unreachable" once the SFU's process is gone.
    socket.on('error', (error) => {
      if (!this.#closed) this.counters.lost ??= `socket: ${error.message}`;
    });
    const werift = socket.listeners('message') as ((data: Buffer, info: RemoteInfo) => void)[];
    socket.removeAllListeners('message');
    socket.on('message', (data: Buffer, info: RemoteInfo) => {
      if (isRtpOrRtcp(data)) this.#receive(data);
      else for (const listener of werift) listener(data, info);
    });
    this.#socket = socket;
  }
}

/** werift's UDP transport inside its ICE protocol: not part of its typed API. */
interface UdpTransport {
  socket: Socket;
  send: (data: Buffer, address?: [string, number]) => Promise<void>;
}

/** werift keeps its UDP sockets inside the ICE connection's protocols; they are not part of its typed API. */
function enlargeReceiveBuffers(ice: RTCIceTransport): void {
  const { protocols } = ice.connection as unknown as { protocols?: { transport?: { socket?: Socket } }[] };
  for (const protocol of protocols ?? []) protocol.transport?.socket?.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
}
