import { io, type Socket } from 'socket.io-client';
import type {
  ControlRequest,
  ControlRequestName,
  ControlResponse,
  Result,
  RoomEventEnvelope,
  RtpParameters,
  SfuToSignalingEvents,
  SignalingToSfuEvents,
  VoiceEvent,
  VoiceEventName,
} from '@concord/protocol';
import { InProcessRegistry, type RoomRegistry } from '@concord/registry';
import { loadSfuConfig, SfuNode, type SfuConfigOverrides } from '@concord/sfu';
import { freePortBase } from './ports';
import { firstArrival } from './wait';

/* A real SFU node on free ports, a control client talking to it as signaling does, and the RTP parameters a browser would declare. */

export const TEST_SECRET = 'sfu-test-secret-0123456789';

/** A started node on free ports, announced in `registry` (by default a fresh in-process one). */
export async function startTestNode<R extends RoomRegistry = InProcessRegistry>(
  overrides: SfuConfigOverrides = {},
  registry: R = new InProcessRegistry() as RoomRegistry as R,
): Promise<{ node: SfuNode; registry: R }> {
  const config = loadSfuConfig(
    { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
    {
      workers: 2,
      rtcPortBase: await freePortBase(overrides.workers ?? 2),
      controlPort: 0,
      secret: TEST_SECRET,
      heartbeatIntervalMs: 100,
      heartbeatTtlMs: 1_000,
      ...overrides,
    },
  );
  const node = new SfuNode(config, registry);
  await node.start();
  return { node, registry };
}

/** The client session a test peer joins and speaks through, unless the test is about sessions. */
export const sessionOf = (peerId: string): string => `${peerId}-session`;

/**
 * Whom a test expects an event for: a peer (events addressed to peers), or one client session
 * (events addressed to it alone, such as the notice that another session took its peer over).
 */
export type Recipient = string | { session: string };

/** A signaling server's view of the node: typed control requests and every room event received. */
export class ControlClient {
  readonly socket: Socket<SfuToSignalingEvents, SignalingToSfuEvents>;
  readonly received: RoomEventEnvelope[] = [];

  private constructor(socket: Socket<SfuToSignalingEvents, SignalingToSfuEvents>) {
    this.socket = socket;
    socket.on('room:event', (envelope) => this.received.push(envelope));
  }

  /** Resolves once connected (as `signalingId`, or as another SFU node with its nodeLinkId); rejects with the server's refusal. */
  static connect(url: string, secret = TEST_SECRET, signalingId = 'test-signaling'): Promise<ControlClient> {
    const socket: Socket<SfuToSignalingEvents, SignalingToSfuEvents> = io(url, {
      auth: { secret, signalingId },
      transports: ['websocket'],
      reconnection: false,
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('connect_error', (error) => {
        socket.close();
        reject(error);
      });
    });
  }

  request<N extends ControlRequestName>(name: N, request: ControlRequest<N>): Promise<Result<ControlResponse<N>>> {
    return this.send(name, request) as Promise<Result<ControlResponse<N>>>;
  }

  /** Any payload, as a faulty or hostile signaling server could send it. */
  send(name: ControlRequestName, payload: unknown): Promise<Result<unknown>> {
    // Untyped on purpose: tests send what the protocol forbids.
    const socket = this.socket.timeout(5_000) as unknown as { emitWithAck(name: string, payload: unknown): Promise<Result<unknown>> };
    return socket.emitWithAck(name, payload);
  }

  /** The data of a successful request; fails the test with the error otherwise. */
  async ok<N extends ControlRequestName>(name: N, request: ControlRequest<N>): Promise<ControlResponse<N>> {
    const result = await this.request(name, request);
    if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
    return result.data;
  }

  /** A room request of `peerId` through its session, answered with its data or failing the test. */
  async room<T = unknown>(
    roomId: string,
    peerId: string,
    name: ControlRequest<'peer.request'>['name'],
    data: unknown,
    sessionId = sessionOf(peerId),
  ): Promise<T> {
    return (await this.ok('peer.request', { roomId, peerId, sessionId, name, data })) as T;
  }

  /** The error code of a request expected to fail. */
  async errorCode(name: ControlRequestName, payload: unknown): Promise<string> {
    const result = await this.send(name, payload);
    if (result.ok) throw new Error(`${name} succeeded unexpectedly: ${JSON.stringify(result.data)}`);
    return result.error.code;
  }

  /** The error code of a room request of `peerId` through its session expected to fail (any name and data). */
  roomError(roomId: string, peerId: string, name: string, data: unknown, sessionId = sessionOf(peerId)): Promise<string> {
    return this.errorCode('peer.request', { roomId, peerId, sessionId, name, data });
  }

  /** The first received event, past or future, addressed to `recipient` in `roomId` and matching. */
  async waitFor<E extends VoiceEventName>(
    roomId: string,
    recipient: Recipient,
    event: E,
    matches: (data: VoiceEvent<E>) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<VoiceEvent<E>> {
    return firstArrival(() => this.eventsFor(roomId, recipient, event), matches, timeoutMs, `${event} for ${JSON.stringify(recipient)} in ${roomId}`);
  }

  /** Every received event of a kind that signaling would hand to the recipient in the room. */
  eventsFor<E extends VoiceEventName>(roomId: string, recipient: Recipient, event: E): VoiceEvent<E>[] {
    return this.received
      .filter((envelope) => envelope.roomId === roomId && envelope.event === event && addressedTo(envelope, recipient))
      .map((envelope) => envelope.data as VoiceEvent<E>);
  }

  close(): void {
    this.socket.close();
  }
}

function addressedTo(envelope: RoomEventEnvelope, recipient: Recipient): boolean {
  if (typeof recipient !== 'string') return envelope.toSession === recipient.session;
  if (envelope.toSession !== undefined) return false;
  return envelope.to ? envelope.to.includes(recipient) : envelope.except !== recipient;
}

/** What a browser's opus sender would declare, by hand. */
export const opusRtpParameters = (ssrc: number): RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
  encodings: [{ ssrc }],
  rtcp: { cname: `cname-${ssrc}` },
});

export const vp8RtpParameters = (ssrc: number): RtpParameters => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
  encodings: [{ ssrc }],
  rtcp: { cname: `cname-${ssrc}` },
});

export const FINGERPRINT = {
  algorithm: 'sha-256',
  value: '82:5A:68:3D:36:C3:0A:DE:AF:E7:32:43:D2:88:83:57:AC:2D:65:E5:80:C4:B6:FB:AF:1A:A0:21:9F:6D:0C:AD',
};
