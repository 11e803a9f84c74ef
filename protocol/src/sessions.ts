import { z } from 'zod';

/**
 * Server-side sessions: every session token names one (its `sid` claim), and a session that is
 * revoked (signed out, signed out everywhere, password changed) stops working at once, for the API
 * and for signaling, whose live sockets of that session are closed.
 */

export const SessionId = z.string().min(1).max(64);

/** Why a session ended; sent to its sockets in `session:revoked` just before they are closed. */
export const SessionRevokedReason = z.enum(['signed-out', 'signed-out-everywhere', 'password-changed']);
export type SessionRevokedReason = z.infer<typeof SessionRevokedReason>;

export const SessionRevokedEvent = z.object({ reason: SessionRevokedReason });
export type SessionRevokedEvent = z.infer<typeof SessionRevokedEvent>;

/** Sessions revoked together; from the API to every signaling process. */
export const SessionRevocation = z.object({ sessionIds: z.array(SessionId).min(1).max(10_000), reason: SessionRevokedReason }).strict();
export type SessionRevocation = z.infer<typeof SessionRevocation>;

/** One of the signed-in user's sessions, as GET /api/auth/sessions lists them. */
export const SessionInfo = z.object({
  id: SessionId,
  createdAt: z.number(),
  lastSeenAt: z.number(),
  expiresAt: z.number(),
  /** What signed in: the browser's user agent, shortened. */
  userAgent: z.string(),
  /** The client address the session was created from. */
  ip: z.string(),
  /** The session making this request. */
  current: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const SessionList = z.object({ sessions: z.array(SessionInfo) });
export type SessionList = z.infer<typeof SessionList>;

export const SignOutEverywhereResponse = z.object({ revoked: z.number().int() });
export type SignOutEverywhereResponse = z.infer<typeof SignOutEverywhereResponse>;

export const ChangePasswordRequest = z
  .object({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(8).max(256) })
  .strict();
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequest>;

/**
 * Whether a session was revoked, as signaling asks it: the API's own sessions in one process, a
 * Redis record written by the API in a cluster.
 */
export interface RevokedSessions {
  isRevoked(sessionId: string): Promise<boolean>;
}
