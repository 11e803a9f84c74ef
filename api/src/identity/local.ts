import { SESSION_AUDIENCE, SessionClaims, TOKEN_ISSUER, type PublicUser, type SessionResponse } from '@concord/protocol';
import { signToken, verifyToken, type SigningKeys } from '../keys';
import type { SessionClient } from '../sessions/store';
import type { AuthenticatedUser, IssuerIdentityProvider, SessionIssuer, SessionRecords } from './provider';

/**
 * Local sign-in: the API mints ES256 session JWTs and is the one that accepts them. Each names a
 * server-side session (`sid`), and is accepted only while that session is live.
 */
export class LocalIdentityProvider implements IssuerIdentityProvider, SessionIssuer {
  readonly issuer = TOKEN_ISSUER;

  constructor(
    private readonly keys: SigningKeys,
    private readonly sessionTtlSeconds: number,
    private readonly records: SessionRecords,
  ) {}

  async issueSession(user: PublicUser, client: SessionClient): Promise<SessionResponse> {
    // A second past the token's own expiry (whole seconds), so the row never lapses before the token.
    const sid = await this.records.open(user.id, client, Date.now() + (this.sessionTtlSeconds + 1) * 1000);
    const claims: SessionClaims = { sub: user.id, name: user.displayName, sid };
    const { token, expiresAt } = await signToken(this.keys, SESSION_AUDIENCE, claims, this.sessionTtlSeconds);
    return { token, expiresAt, user };
  }

  async authenticate(bearerToken: string): Promise<AuthenticatedUser | null> {
    const payload = await verifyToken(this.keys, bearerToken, SESSION_AUDIENCE);
    const claims = SessionClaims.safeParse(payload);
    if (!claims.success || !(await this.records.isLive(claims.data.sid, claims.data.sub))) return null;
    return { userId: claims.data.sub, displayName: claims.data.name, sessionId: claims.data.sid };
  }
}
