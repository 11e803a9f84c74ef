import { z } from 'zod';
import type { Result } from './errors';
import { EntityId } from './mediasoup';
import { RoomId, roomRequests, VoicePermissions, voiceEvents, JoinResponse } from './voice';
import type { RoomRequestName, VoiceEvent, VoiceEventName } from './voice';

/**
 * Control protocol between signaling and an SFU node (socket.io, authenticated with the cluster's
 * shared secret). Room requests from clients are carried inside `peer.request` unchanged; the SFU
 * answers with the same response schema. Every call has a timeout on the signaling side.
 */

const PeerRef = z.object({ roomId: RoomId, peerId: EntityId }).strict();

export const controlRequests = {
  'peer.join': {
    request: z.object({ roomId: RoomId, peerId: EntityId, displayName: z.string().min(1).max(64), permissions: VoicePermissions }).strict(),
    response: JoinResponse,
  },
  /** Socket dropped: close the peer's transports now, keep its place for the grace period. */
  'peer.disconnect': { request: PeerRef, response: z.object({}) },
  'peer.leave': { request: PeerRef, response: z.object({}) },
  'peer.setPermissions': {
    request: z.object({ roomId: RoomId, peerId: EntityId, permissions: VoicePermissions }).strict(),
    response: z.object({ closedProducerIds: z.array(EntityId) }),
  },
  'peer.request': {
    request: z
      .object({
        roomId: RoomId,
        peerId: EntityId,
        name: z.enum(Object.keys(roomRequests) as [RoomRequestName, ...RoomRequestName[]]),
        data: z.unknown(),
      })
      .strict(),
    response: z.unknown(),
  },
} as const;

export type ControlRequestName = keyof typeof controlRequests;
export type ControlRequest<N extends ControlRequestName> = z.infer<(typeof controlRequests)[N]['request']>;
export type ControlResponse<N extends ControlRequestName> = z.infer<(typeof controlRequests)[N]['response']>;

/** An event for clients of a room: to the listed peers, or every peer of the room but `except`. */
export interface RoomEventEnvelope<E extends VoiceEventName = VoiceEventName> {
  roomId: string;
  to?: string[];
  except?: string;
  event: E;
  data: VoiceEvent<E>;
}
export const RoomEventEnvelopeSchema = z.object({
  roomId: RoomId,
  to: z.array(EntityId).optional(),
  except: EntityId.optional(),
  event: z.enum(Object.keys(voiceEvents) as [VoiceEventName, ...VoiceEventName[]]),
  data: z.unknown(),
});

export type SignalingToSfuEvents = {
  [N in ControlRequestName]: (request: ControlRequest<N>, ack: (result: Result<ControlResponse<N>>) => void) => void;
};
export type SfuToSignalingEvents = {
  'room:event': (envelope: RoomEventEnvelope) => void;
};

/** socket.io handshake `auth` of a control connection. */
export const ControlAuth = z.object({ secret: z.string().min(16), signalingId: z.string().max(128) });
