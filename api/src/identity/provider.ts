import type { PublicUser, SessionResponse } from '@concord/protocol';
import type { SessionClient } from '../sessions/store';

export interface AuthenticatedUser {
  userId: string;
  displayName: string;
  /** The server-side session of a Concord token; absent for a Firebase ID token. */
  sessionId?: string;
}

/**
 * Turns a bearer token into a user. Null means "not a token this provider accepts" rather than an
 * error, so providers can be tried in turn (our own sessions, Firebase ID tokens). Errors are for
 * faults on our side (database down, Google's keys unreachable), never for a bad token.
 */
export interface IdentityProvider {
  authenticate(bearerToken: string): Promise<AuthenticatedUser | null>;
}

/** Mints the session a client presents as its bearer token after signing in. */
export interface SessionIssuer {
  issueSession(user: PublicUser, client: SessionClient): Promise<SessionResponse>;
}

/** The server-side sessions our tokens name (the SessionService). */
export interface SessionRecords {
  open(userId: string, client: SessionClient, expiresAt: number): Promise<string>;
  isLive(sessionId: string, userId: string): Promise<boolean>;
}

/** A provider of tokens from one issuer (the JWT `iss` claim), so a composite can route to it. */
export interface IssuerIdentityProvider extends IdentityProvider {
  readonly issuer: string;
}
