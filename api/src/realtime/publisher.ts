import type { z } from 'zod';
import { ProtocolError, realtimeEvents, SessionRevocation, VoicePermissionsChange, VoiceRemoval, type RealtimeEvent, type RealtimeEventName, type VoicePermissions } from '@concord/protocol';

/** Who may see an event: decided by the caller (the permission function) at publish time. */
export interface Audience {
  userIds: readonly string[];
}

/**
 * How the API reaches connected clients. Events are delivered by signaling over each user's
 * socket.io connection; the API never holds sockets. Every call resolves once the request has left
 * the API (for Redis: published), not once clients have it: delivery is best effort, as for any
 * live event, and clients resynchronise through the REST routes when they reconnect.
 */
export interface RealtimePublisher {
  /** Emits the event to every connected socket of every user in the audience, and to no one else. */
  publish<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): Promise<void>;
  /**
   * Puts the user's connected sockets in (or out of) the server's room, where presence changes are
   * announced; call it when the user joins or leaves the server. Sockets connecting later get their
   * rooms from signaling's ServerMembershipSource.
   */
  addToServerRoom(userId: string, serverId: string): Promise<void>;
  removeFromServerRoom(userId: string, serverId: string): Promise<void>;
  /**
   * New voice permissions of the user in a voice room: the signaling instance holding the user's
   * live session there applies them on the SFU, which closes producers no longer allowed.
   */
  setVoicePermissions(userId: string, roomId: string, permissions: VoicePermissions): Promise<void>;
  /** Revoked sessions: every signaling instance tells their sockets why, takes them out of voice and closes them. */
  revokeSessions(revocation: SessionRevocation): Promise<void>;
  /**
   * Users who may no longer be in a voice room (or everyone, for a deleted channel): recorded first,
   * so that grants checked before the removal stop admitting them, then the signaling instances
   * holding their sessions take them out of the room.
   */
  removeFromVoice(removal: VoiceRemoval): Promise<void>;
  close(): Promise<void>;
}

/**
 * The audience without duplicates, and the payload checked against the event's schema: a routes
 * bug must fail at the API, not reach clients as a malformed event.
 */
export function checkedEvent<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): { userIds: string[]; data: RealtimeEvent<E> } {
  const schema = realtimeEvents[event];
  if (!schema) throw new ProtocolError('INTERNAL', `unknown real-time event ${String(event)}`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ProtocolError('INTERNAL', `real-time event ${event} does not match its schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return { userIds: [...new Set(audience.userIds)], data: parsed.data as RealtimeEvent<E> };
}

/** A message for signaling checked against its schema: a malformed one fails here, at the API. */
function checkedMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProtocolError('INTERNAL', `${what} is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** A voice permission change as signaling receives it. */
export const checkedVoicePermissions = (userId: string, roomId: string, permissions: VoicePermissions): VoicePermissionsChange =>
  checkedMessage(VoicePermissionsChange, { userId, roomId, permissions }, 'voice permission change');

/** A session revocation as signaling receives it. */
export const checkedRevocation = (revocation: SessionRevocation): SessionRevocation => checkedMessage(SessionRevocation, revocation, 'session revocation');

/** A removal from a voice room as signaling receives it. */
export const checkedVoiceRemoval = (removal: VoiceRemoval): VoiceRemoval => checkedMessage(VoiceRemoval, removal, 'voice removal');
