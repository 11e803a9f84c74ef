import { z } from 'zod';
import type { Result } from './errors';
import { EntityId, MediaKind, RtpParameters } from './mediasoup';
import { RoomId, roomRequests, VoicePermissions, voiceEvents, JoinResponse, ProducerSource } from './voice';
import type { RoomRequestName, VoiceEvent, VoiceEventName } from './voice';

/**
 * Control protocol between signaling and an SFU node (socket.io, authenticated with the cluster's
 * shared secret). Room requests from clients are carried inside `peer.request` unchanged; the SFU
 * answers with the same response schema. Every call has a timeout on the signaling side.
 */

/**
 * A client session: signaling's id for the client's socket, unique across the cluster. A peer is
 * held by one session at a time, the one that joined last; requests naming an older session do
 * not act on the peer (disconnect and leave do nothing, room requests are NOT_IN_ROOM).
 */
const SessionId = z.string().min(1).max(64);

/** A peer as one client session refers to it. */
const PeerSession = z.object({ roomId: RoomId, peerId: EntityId, sessionId: SessionId }).strict();

const NodeId = z.string().min(1).max(128);

/** One end of a PipeTransport between two SFU nodes carrying a room: where it listens, and its SRTP key. */
export const PipeEndpoint = z
  .object({
    ip: z.string().min(1).max(64),
    port: z.number().int().min(1).max(65_535),
    srtpParameters: z.object({ cryptoSuite: z.enum(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']), keyBase64: z.string().min(1).max(128) }).strict(),
  })
  .strict();
export type PipeEndpoint = z.infer<typeof PipeEndpoint>;

/**
 * A node's offer to carry a room's media to and from another node (node-to-node, over the control
 * channel). Signed with the deployment's SFU_SECRET (`mac`: HMAC-SHA256 over the other fields), for
 * one receiver, fresh and used once: the receiver refuses a wrong mac, another `toNodeId`, an old
 * `issuedAt` and a nonce it has seen.
 */
export const PipeOffer = z
  .object({
    roomId: RoomId,
    fromNodeId: NodeId,
    toNodeId: NodeId,
    endpoint: PipeEndpoint,
    issuedAt: z.number().int().nonnegative(),
    nonce: z.string().min(16).max(64),
    mac: z.string().length(64),
  })
  .strict();
export type PipeOffer = z.infer<typeof PipeOffer>;

/** A request about the room's pipe from `fromNodeId`, the sending node. */
const PipeRef = z.object({ roomId: RoomId, fromNodeId: NodeId }).strict();

export const controlRequests = {
  /** A join by another session while the peer is connected displaces the session holding it. */
  'peer.join': {
    request: PeerSession.extend({ displayName: z.string().min(1).max(64), permissions: VoicePermissions }).strict(),
    response: JoinResponse,
  },
  /** Socket dropped: close the peer's transports now, keep its place for the grace period. */
  'peer.disconnect': { request: PeerSession, response: z.object({}) },
  'peer.leave': { request: PeerSession, response: z.object({}) },
  /** A server-side policy change, whichever session holds the peer. */
  'peer.setPermissions': {
    request: z.object({ roomId: RoomId, peerId: EntityId, permissions: VoicePermissions }).strict(),
    response: z.object({ closedProducerIds: z.array(EntityId) }),
  },
  /**
   * Users who may no longer be in the room (everyone, without `peerIds`): their peers go now,
   * whichever session holds them and whether or not it is connected, and the others see them leave.
   */
  'room.remove': {
    request: z.object({ roomId: RoomId, peerIds: z.array(EntityId).min(1).max(10_000).optional() }).strict(),
    response: z.object({}),
  },
  /** Node to node: open a pipe for the room; answers the receiver's end. FORBIDDEN for a forged or replayed offer. */
  'pipe.open': { request: PipeOffer, response: PipeEndpoint },
  /** Node to node: a producer of the sender's, piped over; the receiver's peers consume it. */
  'pipe.produce': {
    request: PipeRef.extend({
      producerId: EntityId,
      peerId: EntityId,
      kind: MediaKind,
      source: ProducerSource,
      rtpParameters: RtpParameters,
      paused: z.boolean(),
    }).strict(),
    response: z.object({}),
  },
  /** Node to node: a piped producer was paused, resumed or closed at its origin. */
  'pipe.producerState': {
    request: PipeRef.extend({ producerId: EntityId, state: z.enum(['paused', 'resumed', 'closed']) }).strict(),
    response: z.object({}),
  },
  /** Node to node: a peer of the room on the sender's node arrived (`displayName`) or left (without it). */
  'pipe.peer': {
    request: PipeRef.extend({ peerId: EntityId, displayName: z.string().min(1).max(64).optional() }).strict(),
    response: z.object({}),
  },
  /** Node to node: the sender's side of the room's pipe closed (the room emptied there); close this side. */
  'pipe.close': { request: PipeRef, response: z.object({}) },
  'peer.request': {
    request: PeerSession.extend({
      name: z.enum(Object.keys(roomRequests) as [RoomRequestName, ...RoomRequestName[]]),
      data: z.unknown(),
    }).strict(),
    response: z.unknown(),
  },
} as const;

export type ControlRequestName = keyof typeof controlRequests;
export type ControlRequest<N extends ControlRequestName> = z.infer<(typeof controlRequests)[N]['request']>;
export type ControlResponse<N extends ControlRequestName> = z.infer<(typeof controlRequests)[N]['response']>;

/**
 * An event for clients of a room: to the listed peers, or every peer of the room but `except`; or,
 * with `toSession`, to that one client session alone, whether or not it still holds its peer (how a
 * displaced session hears that it was).
 */
export interface RoomEventEnvelope<E extends VoiceEventName = VoiceEventName> {
  roomId: string;
  to?: string[];
  except?: string;
  toSession?: string;
  event: E;
  data: VoiceEvent<E>;
}
export const RoomEventEnvelopeSchema = z.object({
  roomId: RoomId,
  to: z.array(EntityId).optional(),
  except: EntityId.optional(),
  toSession: SessionId.optional(),
  event: z.enum(Object.keys(voiceEvents) as [VoiceEventName, ...VoiceEventName[]]),
  data: z.unknown(),
});

/**
 * A node sends a room's events only to the control connections subscribed to it. `peer.join`
 * subscribes its connection to the room; a signaling process with no client left in the room says
 * so (fire and forget: a connection's messages are handled in order, so a later join subscribes
 * it again). A new connection starts with none: its clients rejoin, which subscribes it.
 */
export const RoomUnsubscribe = z.object({ roomId: RoomId }).strict();
export type RoomUnsubscribe = z.infer<typeof RoomUnsubscribe>;

export type SignalingToSfuEvents = {
  [N in ControlRequestName]: (request: ControlRequest<N>, ack: (result: Result<ControlResponse<N>>) => void) => void;
} & { 'room:unsubscribe': (request: RoomUnsubscribe) => void };
export type SfuToSignalingEvents = {
  'room:event': (envelope: RoomEventEnvelope) => void;
};

/** socket.io handshake `auth` of a control connection. */
export const ControlAuth = z.object({ secret: z.string().min(16), signalingId: z.string().max(128) });
