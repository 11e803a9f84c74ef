import type { JoinResponse, RoomRequestName, VoiceEvent, VoiceRequest, VoiceResponse } from '@concord/protocol';

/** The server events a load-test participant acts on. */
export type ControlEventName = 'voice:newConsumer' | 'voice:consumerClosed' | 'voice:consumerPaused' | 'voice:consumerResumed' | 'voice:roomClosed';

/**
 * What a participant needs from the server side, in the voice protocol's own terms: our signaling
 * (over socket.io, grants and all) implements it, and so does the bare-mediasoup baseline, so the
 * same clients measure both and the difference is the platform's.
 */
export interface RoomControl {
  join(): Promise<JoinResponse>;
  request<N extends RoomRequestName>(name: N, data: VoiceRequest<N>): Promise<VoiceResponse<N>>;
  on<E extends ControlEventName>(event: E, handler: (data: VoiceEvent<E>) => void): void;
  /** Leaves the room (best effort) and disconnects. Idempotent. */
  close(): Promise<void>;
}

/** Connects one participant's control channel: (user name, room) → a control ready to join. */
export type ConnectControl = (userName: string, roomId: string) => Promise<RoomControl>;
