import type { Request } from 'express';
import { z } from 'zod';
import { ChangePasswordRequest, SessionList, SignOutEverywhereResponse } from '@concord/protocol';
import { Id } from '../guild/params';
import { HttpError } from '../http-errors';
import { NoContent, type RouteTable } from '../http/route-table';
import { hashPassword, verifyPassword } from '../passwords';
import type { UserStore } from '../users';
import type { SessionService } from './sessions';
import type { SessionClient } from './store';

export interface SessionRouteDeps {
  sessions: SessionService;
  users: UserStore;
  /** Throws RATE_LIMITED past the sign-in attempt limit for `key`. */
  limitAttempt(key: string): Promise<void>;
}

const MAX_USER_AGENT = 200;

/** The client opening a session, as the session list shows it (control characters dropped). */
export function sessionClientOf(req: Request): SessionClient {
  // eslint-disable-next-line no-control-regex
  const printable = (text: string, max: number) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, max);
  return { userAgent: printable(req.get('user-agent') ?? '', MAX_USER_AGENT), ip: printable(req.ip ?? req.socket.remoteAddress ?? '', 64) };
}

/** A request made with a Firebase ID token has no session of ours to end. */
function currentSession(sessionId: string | undefined): string {
  if (!sessionId) throw new HttpError('BAD_REQUEST', 'this request carries a Firebase ID token, not a Concord session: sign out of Firebase in the client');
  return sessionId;
}

/**
 * Sign-out and session management. "Sign out everywhere" and a password change end every session
 * of the user except the one asking (which stays signed in); sign-out ends the one asking.
 */
export function registerSessionRoutes(table: RouteTable, deps: SessionRouteDeps): void {
  const { sessions, users } = deps;

  table.add(
    { method: 'post', path: '/auth/sign-out', summary: 'Sign out: revoke this session (its token and sockets stop working at once)', tag: 'auth', response: NoContent, status: 204 },
    async ({ user }) => {
      await sessions.revokeOne(user.userId, currentSession(user.sessionId), 'signed-out');
      return undefined;
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/sign-out-everywhere',
      summary: "Revoke every other session of the account (other devices and tabs); this one stays signed in",
      tag: 'auth',
      response: SignOutEverywhereResponse,
    },
    async ({ user }) => ({ revoked: await sessions.revokeAll(user.userId, user.sessionId, 'signed-out-everywhere') }),
  );

  table.add(
    {
      method: 'post',
      path: '/auth/password',
      summary: 'Change the password (the current one is required); every other session is revoked',
      tag: 'auth',
      body: ChangePasswordRequest,
      response: SignOutEverywhereResponse,
    },
    async ({ user, body }) => {
      await deps.limitAttempt(`auth:password:${user.userId}`);
      const account = await users.findById(user.userId);
      if (!account) throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
      if (!account.passwordHash) throw new HttpError('BAD_REQUEST', 'this account signs in with Firebase and has no password here');
      if (!(await verifyPassword(body.currentPassword, account.passwordHash))) throw new HttpError('INVALID_CREDENTIALS', 'the current password is wrong');
      await users.setPasswordHash(account.id, await hashPassword(body.newPassword));
      return { revoked: await sessions.revokeAll(user.userId, user.sessionId, 'password-changed') };
    },
  );

  table.add({ method: 'get', path: '/auth/sessions', summary: "The account's live sessions", tag: 'auth', response: SessionList }, async ({ user }) => ({
    sessions: await sessions.list(user.userId, user.sessionId),
  }));

  table.add(
    {
      method: 'delete',
      path: '/auth/sessions/:sessionId',
      summary: 'Revoke one of my sessions',
      tag: 'auth',
      params: z.object({ sessionId: Id }),
      response: NoContent,
      status: 204,
    },
    async ({ user, params }) => {
      if (!(await sessions.revokeOne(user.userId, params.sessionId, 'signed-out'))) throw new HttpError('NOT_FOUND', 'no live session of yours has that id');
      return undefined;
    },
  );
}
