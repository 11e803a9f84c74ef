import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import {
  GRANT_AUDIENCE,
  ProtocolError,
  SESSION_AUDIENCE,
  SessionClaims,
  TOKEN_ISSUER,
  VoiceGrantClaims,
  type ErrorCode,
} from '@concord/protocol';
import type { z } from 'zod';

/**
 * Verifies the API's session tokens and voice grants with the API's public keys only: signaling
 * never reads the user database.
 */
export class TokenVerifier {
  private constructor(private readonly keys: JWTVerifyGetKey) {}

  static fromJwks(jwks: JSONWebKeySet): TokenVerifier {
    return new TokenVerifier(createLocalJWKSet(jwks));
  }

  static fromUrl(url: string): TokenVerifier {
    return new TokenVerifier(createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }));
  }

  session(token: unknown): Promise<SessionClaims> {
    return this.verify(token, SESSION_AUDIENCE, SessionClaims, 'UNAUTHENTICATED');
  }

  grant(token: unknown): Promise<VoiceGrantClaims> {
    return this.verify(token, GRANT_AUDIENCE, VoiceGrantClaims, 'GRANT_INVALID');
  }

  private async verify<T extends z.ZodType>(token: unknown, audience: string, claims: T, code: ErrorCode): Promise<z.infer<T>> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new ProtocolError(code, 'token missing');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.keys, { issuer: TOKEN_ISSUER, audience, algorithms: ['ES256'] }));
    } catch (error) {
      const reason = (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token invalid';
      throw new ProtocolError(code, reason);
    }
    const parsed = claims.safeParse(payload);
    if (!parsed.success) throw new ProtocolError(code, 'token claims invalid');
    return parsed.data;
  }
}
