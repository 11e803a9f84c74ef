import { SESSION_AUDIENCE, SessionClaims, TOKEN_ISSUER, type PublicUser, type SessionResponse } from '@concord/protocol';
import { signToken, verifyToken, type SigningKeys } from '../keys';
import type { SessionClient } from '../sessions/store';
import type { AuthenticatedUser, IssuerIdentityProvider, SessionIssuer, SessionRecords } from './provider';
import { VerifiedTokens } from './verified-tokens';

/**
 * Local sign-in: the API mints ES256 session JWTs and is the one that accepts them. Each names a
 * server-side session (`sid`), and is accepted only while that session is live.
 */
export class LocalIdentityProvider implements IssuerIdentityProvider, SessionIssuer {
  readonly issuer = TOKEN_ISSUER;
  private readonly verified = new VerifiedTokens();

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
    const claims = this.verified.get(bearerToken) ?? (await this.verify(bearerToken));
    if (!claims || !(await this.records.isLive(claims.sid, claims.sub))) return null;
    return { userId: claims.sub, displayName: claims.name, sessionId: claims.sid };
  }

  private async verify(bearerToken: string): Promise<SessionClaims | undefined> {
    const payload = await verifyToken(this.keys, bearerToken, SESSION_AUDIENCE);
    const claims = SessionClaims.safeParse(payload);
    if (!claims.success) return undefined;
    if (typeof payload?.exp === 'number') this.verified.remember(bearerToken, claims.data, payload.exp * 1000);
    return claims.data;
  }
}
