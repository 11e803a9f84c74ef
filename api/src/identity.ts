import { SESSION_AUDIENCE, SessionClaims, type PublicUser, type SessionResponse } from '@concord/protocol';
import { signToken, verifyToken, type SigningKeys } from './keys';

export interface AuthenticatedUser {
  userId: string;
  displayName: string;
}

/**
 * Turns a bearer token into a user. Null means "not a token this provider accepts" rather than an
 * error, so providers can be tried in turn (our own sessions, later Firebase ID tokens).
 */
export interface IdentityProvider {
  authenticate(bearerToken: string): Promise<AuthenticatedUser | null>;
}

/** Mints the session a client presents as its bearer token after signing in. */
export interface SessionIssuer {
  issueSession(user: PublicUser): Promise<SessionResponse>;
}

/** Local sign-in: the API mints ES256 session JWTs and is the one that accepts them. */
export class LocalIdentityProvider implements IdentityProvider, SessionIssuer {
  constructor(
    private readonly keys: SigningKeys,
    private readonly sessionTtlSeconds: number,
  ) {}

  async issueSession(user: PublicUser): Promise<SessionResponse> {
    const claims: SessionClaims = { sub: user.id, name: user.displayName };
    const { token, expiresAt } = await signToken(this.keys, SESSION_AUDIENCE, claims, this.sessionTtlSeconds);
    return { token, expiresAt, user };
  }

  async authenticate(bearerToken: string): Promise<AuthenticatedUser | null> {
    const payload = await verifyToken(this.keys, bearerToken, SESSION_AUDIENCE);
    const claims = SessionClaims.safeParse(payload);
    return claims.success ? { userId: claims.data.sub, displayName: claims.data.name } : null;
  }
}
