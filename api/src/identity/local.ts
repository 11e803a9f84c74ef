import { SESSION_AUDIENCE, SessionClaims, TOKEN_ISSUER, type PublicUser, type SessionResponse } from '@concord/protocol';
import { signToken, verifyToken, type SigningKeys } from '../keys';
import type { AuthenticatedUser, IssuerIdentityProvider, SessionIssuer } from './provider';

/** Local sign-in: the API mints ES256 session JWTs and is the one that accepts them. */
export class LocalIdentityProvider implements IssuerIdentityProvider, SessionIssuer {
  readonly issuer = TOKEN_ISSUER;

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
