import { z } from 'zod';
import { DtlsParameters, EntityId, IceCandidate, IceParameters, MediaKind, RtpCapabilities, RtpParameters } from './mediasoup';

/**
 * The voice protocol between web client and signaling. Every request is a socket.io event with an
 * ack carrying `Result<response>`; every event is server-initiated. Signaling forwards room
 * requests to the room's SFU node unchanged (see control.ts), so these schemas are the one
 * declaration of both hops.
 */

/** What a producer carries; decides which grant permission it needs. */
export const ProducerSource = z.enum(['mic', 'camera', 'screen', 'screen-audio']);
export type ProducerSource = z.infer<typeof ProducerSource>;

export const SOURCE_KIND: Record<ProducerSource, MediaKind> = {
  mic: 'audio',
  camera: 'video',
  screen: 'video',
  'screen-audio': 'audio',
};

/** What a voice grant allows, beyond joining. */
export const VoicePermissions = z.object({ speak: z.boolean(), video: z.boolean(), screen: z.boolean() });
export type VoicePermissions = z.infer<typeof VoicePermissions>;

/**
 * Every permission producing a source needs. The SFU can tell audio from video but not a camera
 * from a screen, so what is sent decides first (audio needs `speak`, video needs `video`) and a
 * screen label only adds `screen` (STREAM): a label can narrow what a permission allows, never
 * widen it.
 */
export const SOURCE_PERMISSIONS: Record<ProducerSource, readonly (keyof VoicePermissions)[]> = {
  mic: ['speak'],
  camera: ['video'],
  screen: ['video', 'screen'],
  'screen-audio': ['speak', 'screen'],
};

/** The permissions `source` needs that `permissions` lacks: none when it may be produced. */
export const missingPermissions = (permissions: VoicePermissions, source: ProducerSource): (keyof VoicePermissions)[] =>
  SOURCE_PERMISSIONS[source].filter((permission) => !permissions[permission]);

export const mayProduce = (permissions: VoicePermissions, source: ProducerSource): boolean => missingPermissions(permissions, source).length === 0;

/**
 * A source that goes only alongside another live producer of the same peer, and is closed with it:
 * screen audio is the sound of a screen share, never a microphone by another name.
 */
export const SOURCE_COMPANION: Partial<Record<ProducerSource, ProducerSource>> = { 'screen-audio': 'screen' };

/**
 * A STUN or TURN server for the client's transports (RTCIceServer). TURN entries carry
 * time-limited credentials (the TURN REST scheme, api/src/turn.ts), never the shared secret.
 */
export const IceServer = z
  .object({
    urls: z.array(z.string().regex(/^(stun|turns?):[^\s]+$/, 'ICE server URLs are stun:, turn: or turns: URLs').max(512)).min(1).max(8),
    username: z.string().max(256).optional(),
    credential: z.string().max(256).optional(),
  })
  .strict();
export type IceServer = z.infer<typeof IceServer>;

export const RoomId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'room ids use letters, digits and _ . : -');
export type RoomId = z.infer<typeof RoomId>;

export const ProducerInfo = z.object({ producerId: EntityId, kind: MediaKind, source: ProducerSource, paused: z.boolean() });
export type ProducerInfo = z.infer<typeof ProducerInfo>;

export const PeerInfo = z.object({ peerId: EntityId, displayName: z.string(), producers: z.array(ProducerInfo) });
export type PeerInfo = z.infer<typeof PeerInfo>;

export const TransportDirection = z.enum(['send', 'recv']);
export type TransportDirection = z.infer<typeof TransportDirection>;

export const TransportOptions = z.object({
  transportId: EntityId,
  direction: TransportDirection,
  iceParameters: IceParameters,
  iceCandidates: z.array(IceCandidate),
  dtlsParameters: DtlsParameters,
});
export type TransportOptions = z.infer<typeof TransportOptions>;

const Empty = z.object({}).strict();
const TransportRef = z.object({ transportId: EntityId }).strict();
const ProducerRef = z.object({ producerId: EntityId }).strict();
const ConsumerRef = z.object({ consumerId: EntityId }).strict();

export const JoinResponse = z.object({
  roomId: RoomId,
  peerId: EntityId,
  routerRtpCapabilities: RtpCapabilities,
  peers: z.array(PeerInfo),
  permissions: VoicePermissions,
});
export type JoinResponse = z.infer<typeof JoinResponse>;

/** Room requests: everything after join. Forwarded to the SFU with the caller's room and peer id. */
export const roomRequests = {
  'voice:createTransport': { request: z.object({ direction: TransportDirection }).strict(), response: TransportOptions },
  'voice:connectTransport': {
    request: z.object({ transportId: EntityId, dtlsParameters: DtlsParameters }).strict(),
    response: Empty,
  },
  'voice:restartIce': { request: TransportRef, response: z.object({ iceParameters: IceParameters }) },
  /** Sent once the recv transport exists; the SFU then consumes every current and future producer. */
  'voice:setRtpCapabilities': { request: z.object({ rtpCapabilities: RtpCapabilities }).strict(), response: Empty },
  'voice:produce': {
    request: z
      .object({ transportId: EntityId, kind: MediaKind, source: ProducerSource, rtpParameters: RtpParameters, paused: z.boolean().optional() })
      .strict()
      .superRefine(({ kind, source, rtpParameters }, context) => {
        // What is declared must be what is sent: the kind decides the permission (SOURCE_PERMISSIONS).
        if (SOURCE_KIND[source] !== kind) context.addIssue({ code: 'custom', path: ['kind'], message: `a ${source} producer carries ${SOURCE_KIND[source]}, not ${kind}` });
        rtpParameters.codecs.forEach(({ mimeType }, index) => {
          if (!mimeType.toLowerCase().startsWith(`${kind}/`)) {
            context.addIssue({ code: 'custom', path: ['rtpParameters', 'codecs', index, 'mimeType'], message: `${mimeType} is not a codec for ${kind}` });
          }
        });
      }),
    response: z.object({ producerId: EntityId }),
  },
  'voice:pauseProducer': { request: ProducerRef, response: Empty },
  'voice:resumeProducer': { request: ProducerRef, response: Empty },
  'voice:closeProducer': { request: ProducerRef, response: Empty },
  'voice:pauseConsumer': { request: ConsumerRef, response: Empty },
  'voice:resumeConsumer': { request: ConsumerRef, response: Empty },
} as const;

export const voiceRequests = {
  /** The grant (from the API) names the room and what the peer may do there. */
  'voice:join': { request: z.object({ grant: z.string().min(1).max(4096) }).strict(), response: JoinResponse },
  'voice:leave': { request: Empty, response: Empty },
  ...roomRequests,
} as const;

export type VoiceRequestName = keyof typeof voiceRequests;
export type RoomRequestName = keyof typeof roomRequests;
export type VoiceRequest<N extends VoiceRequestName> = z.infer<(typeof voiceRequests)[N]['request']>;
export type VoiceResponse<N extends VoiceRequestName> = z.infer<(typeof voiceRequests)[N]['response']>;
export const ROOM_REQUEST_NAMES = Object.keys(roomRequests) as RoomRequestName[];

export const NewConsumer = z.object({
  consumerId: EntityId,
  producerId: EntityId,
  peerId: EntityId,
  kind: MediaKind,
  source: ProducerSource,
  rtpParameters: RtpParameters,
  producerPaused: z.boolean(),
});
export type NewConsumer = z.infer<typeof NewConsumer>;

/** `voice:roomClosed` reason when the same user joined the room from another tab or device: final, no rejoin. */
export const DISPLACED_REASON = 'joined from another session';
/**
 * `voice:roomClosed` reason when the room's SFU node is draining (shut down or upgraded): the call
 * moves to another node. The client rejoins at once and keeps showing what it had meanwhile.
 */
export const NODE_DRAINING_REASON = 'the SFU node is draining; the call moves to another node';

/**
 * Why a user was taken out of a voice room by the server: they may no longer be there. Final: the
 * client leaves the call and shows why, instead of rejoining.
 */
export const VoiceRemovedReason = z.enum(['kicked', 'banned', 'left-server', 'access-revoked', 'channel-deleted', 'server-deleted']);
export type VoiceRemovedReason = z.infer<typeof VoiceRemovedReason>;

/** Server → client events. */
export const voiceEvents = {
  'voice:peerJoined': z.object({ peer: PeerInfo }),
  'voice:peerLeft': z.object({ peerId: EntityId }),
  /** A consumer was created for this peer, paused; the client resumes it when its track is ready. */
  'voice:newConsumer': NewConsumer,
  'voice:consumerClosed': z.object({ consumerId: EntityId, producerId: EntityId }),
  'voice:consumerPaused': z.object({ consumerId: EntityId, producerId: EntityId }),
  'voice:consumerResumed': z.object({ consumerId: EntityId, producerId: EntityId }),
  'voice:consumerScore': z.object({ consumerId: EntityId, score: z.number(), producerScore: z.number() }),
  'voice:consumerLayers': z.object({
    consumerId: EntityId,
    spatialLayer: z.number().nullable(),
    temporalLayer: z.number().nullable(),
  }),
  /** One of this peer's producers was closed by the server (e.g. its permission was revoked). */
  'voice:producerClosed': z.object({ producerId: EntityId, reason: z.string() }),
  'voice:permissionsChanged': z.object({ permissions: VoicePermissions }),
  'voice:activeSpeaker': z.object({ peerId: EntityId.nullable() }),
  'voice:speaking': z.object({ peerIds: z.array(EntityId) }),
  /** The room is gone (its worker or node died, or it was closed); clients rejoin to get a new one. */
  'voice:roomClosed': z.object({ roomId: RoomId, reason: z.string() }),
  /** This peer was taken out of the room (see VoiceRemovedReason); the last event of the room it gets. */
  'voice:removed': z.object({ roomId: RoomId, reason: VoiceRemovedReason }),
  /** A message that could not be answered through an ack (none was given). */
  'protocol:error': z.object({ event: z.string(), code: z.string(), message: z.string() }),
} as const;

export type VoiceEventName = keyof typeof voiceEvents;
export type VoiceEvent<E extends VoiceEventName> = z.infer<(typeof voiceEvents)[E]>;
