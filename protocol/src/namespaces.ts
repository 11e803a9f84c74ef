import type { Result } from './errors';
import type { RealtimeServerToClientEvents } from './realtime';
import type { VoiceEvent, VoiceEventName, VoiceRequest, VoiceRequestName, VoiceResponse } from './voice';

/**
 * Signaling's socket.io namespaces. A client in a call has two sockets, one per namespace: the
 * app's real-time events (chat, presence, server changes) come only over `/`, the voice protocol
 * only over `/voice`, so no event reaches a user twice. Both authenticate the same way, count
 * towards the same per-user cap and close on session revocation.
 */
export const REALTIME_NAMESPACE = '/';
export const VOICE_NAMESPACE = '/voice';

/** The voice namespace of the signaling server at `signalingUrl` (an origin), for socket.io-client. */
export const voiceNamespaceUrl = (signalingUrl: string): string => new URL(VOICE_NAMESPACE, signalingUrl).href;

/**
 * socket.io typings of the namespaces, derived from the schemas of voice.ts and realtime.ts (`/`
 * takes RealtimeClientToServerEvents as they are): no event name is typed by hand elsewhere.
 */
export type VoiceClientToServerEvents = {
  [N in VoiceRequestName]: (request: VoiceRequest<N>, ack: (result: Result<VoiceResponse<N>>) => void) => void;
};
export type VoiceServerToClientEvents = {
  [E in VoiceEventName]: (data: VoiceEvent<E>) => void;
  /** A revoked session's voice socket hears it too, just before it is closed. */
} & Pick<RealtimeServerToClientEvents, 'session:revoked'>;

/** What `/` sends: the real-time events, and refusals of requests that came without an ack. */
export type RealtimeNamespaceServerToClientEvents = RealtimeServerToClientEvents & Pick<VoiceServerToClientEvents, 'protocol:error'>;
