import { z } from 'zod';
import { DisplayName } from './servers';
import { IceServer, RoomId, VoicePermissions } from './voice';

/** Local sign-in (the embedded default; Firebase ID tokens slot in beside it). */
export const UserName = z
  .string()
  .min(2)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'user names use letters, digits and _ . -');

export const LocalSignUpRequest = z.object({
  username: UserName,
  password: z.string().min(8).max(256),
  displayName: DisplayName.optional(),
}).strict();
export type LocalSignUpRequest = z.infer<typeof LocalSignUpRequest>;

export const LocalSignInRequest = z.object({ username: UserName, password: z.string().min(1).max(256) }).strict();
export type LocalSignInRequest = z.infer<typeof LocalSignInRequest>;

export const PublicUser = z.object({ id: z.string(), username: z.string(), displayName: z.string() });
export type PublicUser = z.infer<typeof PublicUser>;

export const SessionResponse = z.object({ token: z.string(), expiresAt: z.number(), user: PublicUser });
export type SessionResponse = z.infer<typeof SessionResponse>;

export const VoiceGrantRequest = z.object({ roomId: RoomId }).strict();
export type VoiceGrantRequest = z.infer<typeof VoiceGrantRequest>;

export const VoiceGrantResponse = z.object({
  grant: z.string(),
  expiresAt: z.number(),
  permissions: VoicePermissions,
  /** TURN servers with credentials for this user (absent when the deployment has none): ICE relays through them. */
  iceServers: z.array(IceServer).max(8).optional(),
});
export type VoiceGrantResponse = z.infer<typeof VoiceGrantResponse>;

/** Claims of the JWTs the API signs (ES256); signaling verifies them with the API's public key. */
export const TOKEN_ISSUER = 'concord-api';
export const SESSION_AUDIENCE = 'concord-session';
export const GRANT_AUDIENCE = 'concord-voice-grant';

/** `sid`: the server-side session (sessions.ts) the token belongs to; signing out revokes it. */
export const SessionClaims = z.object({ sub: z.string().min(1).max(64), name: z.string().min(1).max(64), sid: z.string().min(1).max(64) });
export type SessionClaims = z.infer<typeof SessionClaims>;

export const VoiceGrantClaims = z.object({
  sub: z.string().min(1).max(64),
  name: z.string().min(1).max(64),
  room: RoomId,
  perms: VoicePermissions,
  /** When the API read the permissions in `perms` (ms since the epoch); a removal from the room after it voids the grant. */
  checkedAt: z.number().int().nonnegative(),
  /** The session the grant was issued under: it admits only a socket of that session, while it lives. */
  sid: z.string().min(1).max(64),
});
export type VoiceGrantClaims = z.infer<typeof VoiceGrantClaims>;

/** The one JSON shape of every HTTP error. */
export const HttpErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
