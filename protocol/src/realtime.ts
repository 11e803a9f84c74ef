import { z } from 'zod';
import type { Result } from './errors';
import { Message, MessageDeletedEvent, MessageUpdatedEvent, ReactionEvent } from './messages';
import { guildRealtimeEvents } from './servers';
import { SessionRevocation, SessionRevokedEvent } from './sessions';
import { RoomId, VoicePermissions, VoiceRemovedReason } from './voice';

/**
 * Real-time delivery: events the API publishes with an explicit audience (the user ids allowed to
 * see them, decided by the permission function at publish time) and signaling delivers over each
 * user's socket.io connection, plus presence, which signaling itself keeps and announces.
 *
 * Routing is by socket.io rooms: every socket of a user is in `user:<userId>`, which is how an
 * audience is reached; sockets are also in `server:<serverId>` for every server the user belongs to,
 * which is where presence changes go.
 */

const Id = z.string().min(1).max(64);

/** A user's presence: online if any connection is, idle if every connection is idle, else offline. */
export const PresenceStatus = z.enum(['online', 'idle', 'offline']);
export type PresenceStatus = z.infer<typeof PresenceStatus>;

/** What one connection says of its user (offline is having no connection). */
export const ConnectionPresence = z.enum(['online', 'idle']);
export type ConnectionPresence = z.infer<typeof ConnectionPresence>;

/**
 * Server → client real-time events, name → payload schema. Adding an event is one line here: the
 * socket.io typings (RealtimeServerToClientEvents), the API publisher's signature and its run-time check of
 * the payload all derive from this map.
 */
export const realtimeEvents = {
  /** Sent by signaling to the rooms of the user's servers when the user's aggregate status changes. */
  'presence:updated': z.object({ userId: Id, status: PresenceStatus }),
  // Chat events, published by the API's routes.
  'typing:started': z.object({ serverId: Id, channelId: Id, userId: Id }),
  'message:created': Message,
  'message:updated': MessageUpdatedEvent,
  'message:deleted': MessageDeletedEvent,
  'reaction:added': ReactionEvent,
  'reaction:removed': ReactionEvent,
  // Server, channel, role and member changes, published by the API's routes (see servers.ts).
  ...guildRealtimeEvents,
  /** Sent by signaling to each socket of a revoked session just before closing it: sign in again. */
  'session:revoked': SessionRevokedEvent,
} as const;

export type RealtimeEventName = keyof typeof realtimeEvents;
export type RealtimeEvent<E extends RealtimeEventName> = z.infer<(typeof realtimeEvents)[E]>;

/** Client → server real-time requests; each has an ack carrying `Result<response>`, as voice requests do. */
export const realtimeRequests = {
  /** Sets this connection's status; the user's aggregate changes only if no other connection decides it. */
  'presence:set': { request: z.object({ status: ConnectionPresence }).strict(), response: z.object({}).strict() },
} as const;

export type RealtimeRequestName = keyof typeof realtimeRequests;
export type RealtimeRequest<N extends RealtimeRequestName> = z.infer<(typeof realtimeRequests)[N]['request']>;
export type RealtimeResponse<N extends RealtimeRequestName> = z.infer<(typeof realtimeRequests)[N]['response']>;

/** socket.io typings of the real-time namespace `/` (see namespaces.ts). */
export type RealtimeServerToClientEvents = {
  [E in RealtimeEventName]: (data: RealtimeEvent<E>) => void;
};
export type RealtimeClientToServerEvents = {
  [N in RealtimeRequestName]: (request: RealtimeRequest<N>, ack: (result: Result<RealtimeResponse<N>>) => void) => void;
};

/** A change of a user's voice permissions in a room, applied to the live session holding the peer. */
export const VoicePermissionsChange = z.object({ userId: Id, roomId: RoomId, permissions: VoicePermissions }).strict();
export type VoicePermissionsChange = z.infer<typeof VoicePermissionsChange>;

/**
 * Users taken out of a voice room because they may no longer be there: the signaling instance
 * holding such a user's session closes the peer on the SFU and tells the client (`voice:removed`),
 * and grants checked before `at` no longer admit anyone it names (see voiceRevocationKey).
 */
export const VoiceRemoval = z
  .object({
    roomId: RoomId,
    /** Absent: everyone in the room (the channel or its server was deleted). */
    userIds: z.array(Id).min(1).max(10_000).optional(),
    reason: VoiceRemovedReason,
    /** When the API had the removal committed (ms since the epoch): grants checked before it are void. */
    at: z.number().int().nonnegative(),
    /** Until when such a grant could still be presented (its lifetime after `at`): how long to remember this. */
    until: z.number().int().nonnegative(),
  })
  .strict();
export type VoiceRemoval = z.infer<typeof VoiceRemoval>;

/**
 * The Redis key recording when grants for the room stopped admitting a user (`userId`) or anyone
 * (no `userId`); its value is that time in ms. Room ids have no `/`, so the two never collide.
 */
export const voiceRevocationKey = (keyPrefix: string, roomId: string, userId?: string): string =>
  `${keyPrefix}voice-revoked:${roomId}${userId === undefined ? '' : `/${userId}`}`;

/** The keys a removal records (voiceRevocationKey): one per user it names, or the room's. */
export const voiceRevocationKeysOf = (keyPrefix: string, { roomId, userIds }: VoiceRemoval): string[] =>
  userIds ? userIds.map((userId) => voiceRevocationKey(keyPrefix, roomId, userId)) : [voiceRevocationKey(keyPrefix, roomId)];

/** Events between the API's emitter and signaling processes (socket.io `serverSideEmit`). */
export type RealtimeInterServerEvents = {
  'voice:setPermissions': (change: VoicePermissionsChange) => void;
  'voice:remove': (removal: VoiceRemoval) => void;
  'session:revoked': (revocation: SessionRevocation) => void;
};

export const userRoom = (userId: string): string => `user:${userId}`;
export const SERVER_ROOM_PREFIX = 'server:';
export const serverRoom = (serverId: string): string => `${SERVER_ROOM_PREFIX}${serverId}`;

/**
 * The socket.io Redis channel key (adapter on signaling, emitter on the API), under the deployment's
 * REDIS_KEY_PREFIX so that deployments and test runs sharing one Redis never hear each other.
 */
export const realtimeRedisKey = (keyPrefix: string): string => `${keyPrefix}socket.io`;

/**
 * What a signaling instance offers the API of the same process (the embedded default): the same
 * operations the API reaches through Redis in a cluster, with the same effect.
 */
export interface RealtimeSink {
  /** Emits the event to every socket of every listed user. */
  deliver<E extends RealtimeEventName>(userIds: readonly string[], event: E, data: RealtimeEvent<E>): void;
  /** Every socket of the user joins (or leaves) the server's room. */
  joinServerRoom(userId: string, serverId: string): void;
  leaveServerRoom(userId: string, serverId: string): void;
  /** Applies new permissions to the user's live voice session in the room, if this instance holds it. */
  setVoicePermissions(change: VoicePermissionsChange): Promise<void>;
  /** Records the removal (grants checked before it stop admitting) and takes this instance's sessions out of the room. */
  removeFromVoice(removal: VoiceRemoval): Promise<void>;
  /** Tells this instance's sockets of the sessions why, takes them out of voice rooms and closes them. */
  revokeSessions(revocation: SessionRevocation): Promise<void>;
}
