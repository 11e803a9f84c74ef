import { io, type Socket } from 'socket.io-client';
import {
  unwrap,
  type JoinResponse,
  type Result,
  type RoomRequestName,
  type VoiceClientToServerEvents,
  type VoiceEvent,
  type VoiceRequest,
  type VoiceRequestName,
  type VoiceResponse,
  type VoiceServerToClientEvents,
  voiceNamespaceUrl,
} from '@concord/protocol';
import type { PlatformSetup } from '../setup';
import type { ConnectControl, ControlEventName, RoomControl } from './control';

type ClientSocket = Socket<VoiceServerToClientEvents, VoiceClientToServerEvents>;

const CONNECT_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
const LEAVE_TIMEOUT_MS = 2_000;

/** The voice protocol over socket.io to our signaling, as the web client speaks it. */
export class SignalingControl implements RoomControl {
  readonly #socket: ClientSocket;
  readonly #grant: () => Promise<string>;
  #closed = false;

  private constructor(socket: ClientSocket, grant: () => Promise<string>) {
    this.#socket = socket;
    this.#grant = grant;
  }

  /** An authenticated socket; `grant` is asked for at join time (grants live a minute). */
  static connect(url: string, token: string, grant: () => Promise<string>): Promise<SignalingControl> {
    // One connection per participant, never shared, never silently reconnected: a drop is a result.
    const socket: ClientSocket = io(voiceNamespaceUrl(url), { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new SignalingControl(socket, grant)));
      socket.once('connect_error', (error) => {
        socket.close();
        reject(new Error(`signaling refused the connection: ${error.message}`));
      });
    });
  }

  async join(): Promise<JoinResponse> {
    return this.#call('voice:join', { grant: await this.#grant() });
  }

  request<N extends RoomRequestName>(name: N, data: VoiceRequest<N>): Promise<VoiceResponse<N>> {
    return this.#call(name, data);
  }

  on<E extends ControlEventName>(event: E, handler: (data: VoiceEvent<E>) => void): void {
    // socket.io's typed `on` cannot follow a generic event name; the map above ties the two.
    (this.#socket.on as (event: string, handler: (data: VoiceEvent<E>) => void) => void)(event, handler);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#socket.connected) await this.#call('voice:leave', {}, LEAVE_TIMEOUT_MS).catch(() => undefined);
    this.#socket.close();
  }

  async #call<N extends VoiceRequestName>(name: N, data: VoiceRequest<N>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<VoiceResponse<N>> {
    // socket.io's typed emit cannot follow a generic request name; voiceRequests ties name and payload.
    const socket = this.#socket.timeout(timeoutMs) as unknown as { emitWithAck(name: N, data: VoiceRequest<N>): Promise<Result<VoiceResponse<N>>> };
    return unwrap(await socket.emitWithAck(name, data));
  }
}

/** Participants of the platform: each signs in through the API and joins with a grant for its room. */
export const signalingConnector =
  (url: string, setup: PlatformSetup): ConnectControl =>
  async (userName, roomId) => {
    const user = await setup.user(userName);
    return SignalingControl.connect(url, user.token, () => setup.grant(user, roomId));
  };
