import { io, type Socket } from 'socket.io-client';
import {
  SOURCE_KIND,
  type ErrorBody,
  type MediaKind,
  type ProducerSource,
  type Result,
  type VoiceClientToServerEvents,
  type VoiceEvent,
  type VoiceEventName,
  type VoiceRequest,
  type VoiceRequestName,
  type VoiceResponse,
  type VoiceServerToClientEvents,
  voiceNamespaceUrl,
} from '@concord/protocol';
import { opusRtpParameters, vp8RtpParameters } from './sfu';
import { firstArrival } from './wait';

/* The client side of the voice protocol for tests: typed requests with acks, and every event a socket received, past or awaited. */

/** A socket of signaling's voice namespace. */
export type ClientSocket = Socket<VoiceServerToClientEvents, VoiceClientToServerEvents>;

/** Long enough for a real SFU round trip on a busy CI box, short enough that a lost ack fails fast. */
const ACK_TIMEOUT_MS = 5_000;

/** A typed request; answers the ack's Result. */
export function request<N extends VoiceRequestName>(socket: ClientSocket, name: N, payload: VoiceRequest<N>): Promise<Result<VoiceResponse<N>>> {
  return send(socket, name, payload) as Promise<Result<VoiceResponse<N>>>;
}

/** Any arguments, as a faulty or hostile client could send them, with an ack appended. */
export async function send(socket: ClientSocket, name: string, ...args: unknown[]): Promise<Result<unknown>> {
  // Untyped on purpose: tests send what the protocol forbids.
  const timed = socket.timeout(ACK_TIMEOUT_MS) as unknown as { emitWithAck(name: string, ...args: unknown[]): Promise<Result<unknown>> };
  try {
    return await timed.emitWithAck(name, ...args);
  } catch {
    throw new Error(`no ack for ${name} within ${ACK_TIMEOUT_MS} ms`);
  }
}

/** A produce request for `source`, with the RTP parameters a browser would declare for its kind. */
export function produceRequest(
  transportId: string,
  source: ProducerSource,
  ssrc: number,
  kind: MediaKind = SOURCE_KIND[source],
): VoiceRequest<'voice:produce'> {
  return { transportId, kind, source, rtpParameters: kind === 'audio' ? opusRtpParameters(ssrc) : vp8RtpParameters(ssrc) };
}

/** The data of a successful request; fails the test with the error otherwise. */
export async function ok<N extends VoiceRequestName>(socket: ClientSocket, name: N, payload: VoiceRequest<N>): Promise<VoiceResponse<N>> {
  const result = await request(socket, name, payload);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** The error of a request expected to fail (any payload). */
export async function failure(socket: ClientSocket, name: string, payload: unknown): Promise<ErrorBody> {
  const result = await send(socket, name, payload);
  if (result.ok) throw new Error(`${name} succeeded unexpectedly: ${JSON.stringify(result.data)}`);
  return result.error;
}

/** The error code of a request expected to fail. */
export const errorCode = async (socket: ClientSocket, name: string, payload: unknown): Promise<string> => (await failure(socket, name, payload)).code;

/* ---- Events a client received ---- */

interface Received {
  event: string;
  data: unknown;
}
const receivedBy = new WeakMap<ClientSocket, Received[]>();

/** Records every event from the first moment, so a test can ask about the past as well as wait. */
export function recordEvents(socket: ClientSocket): void {
  const received: Received[] = [];
  receivedBy.set(socket, received);
  socket.onAny((event: string, data: unknown) => received.push({ event, data }));
}

/** Every event of a kind the client received so far, in order. */
export function eventsOf<E extends VoiceEventName>(socket: ClientSocket, event: E): VoiceEvent<E>[] {
  return (receivedBy.get(socket) ?? []).filter((r) => r.event === event).map((r) => r.data as VoiceEvent<E>);
}

/** The first received event of a kind, past or future, that matches. */
export async function nextEvent<E extends VoiceEventName>(
  socket: ClientSocket,
  event: E,
  matches: (data: VoiceEvent<E>) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<VoiceEvent<E>> {
  return firstArrival(() => eventsOf(socket, event), matches, timeoutMs, `matching ${event}`);
}

/** Drops a client's connection without a goodbye, as a lost network would. */
export function dropConnection(socket: ClientSocket): Promise<void> {
  const gone = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
  socket.io.engine.close();
  return gone;
}

export interface User {
  id: string;
  name: string;
  token: string;
}

/** A user's voice socket to one signaling process (a cluster's, started apart), recording every event it receives. */
export class VoiceClient {
  readonly socket: ClientSocket;

  constructor(
    readonly user: User,
    readonly signalingUrl: string,
  ) {
    this.socket = io(voiceNamespaceUrl(signalingUrl), { auth: { token: user.token }, transports: ['websocket'], reconnection: false, timeout: ACK_TIMEOUT_MS });
    recordEvents(this.socket);
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', (error) => reject(new Error(`${this.user.name} could not connect to ${this.signalingUrl}: ${error.message}`)));
    });
  }

  /** The raw result of a request, success or typed error. */
  attempt<N extends VoiceRequestName>(name: N, payload: VoiceRequest<N>): Promise<Result<VoiceResponse<N>>> {
    return request(this.socket, name, payload);
  }

  /** The data of a successful request; fails the test with the error otherwise. */
  async request<N extends VoiceRequestName>(name: N, payload: VoiceRequest<N>): Promise<VoiceResponse<N>> {
    const result = await this.attempt(name, payload);
    if (!result.ok) throw new Error(`${this.user.name}: ${name} failed: ${result.error.code} ${result.error.message}`);
    return result.data;
  }

  received<E extends VoiceEventName>(event: E): VoiceEvent<E>[] {
    return eventsOf(this.socket, event);
  }

  /** The first matching event, past or future. */
  waitFor<E extends VoiceEventName>(event: E, matches: (data: VoiceEvent<E>) => boolean, timeoutMs = 5_000): Promise<VoiceEvent<E>> {
    return nextEvent(this.socket, event, matches, timeoutMs).catch((error: Error) => {
      throw new Error(`${this.user.name}: ${error.message}`);
    });
  }

  close(): void {
    this.socket.close();
  }
}
