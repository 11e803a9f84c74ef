import { decodeJwt } from 'jose';
import type { AuthenticatedUser, IdentityProvider, IssuerIdentityProvider } from './provider';

/** The `iss` claim of a JWT, read without verifying anything: only to pick who verifies it. */
function unverifiedIssuer(token: string): string | null {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}

/**
 * Several sign-in methods side by side (our own sessions and Firebase ID tokens): each token goes
 * to the one provider of its issuer, so a forged "Firebase" token is never tried as ours nor the
 * other way round, and one of ours costs no call to Firebase. A token of no known issuer is null.
 */
export class CompositeIdentityProvider implements IdentityProvider {
  private readonly byIssuer = new Map<string, IdentityProvider>();

  constructor(providers: readonly IssuerIdentityProvider[]) {
    for (const provider of providers) {
      if (this.byIssuer.has(provider.issuer)) throw new Error(`two identity providers for issuer ${provider.issuer}`);
      this.byIssuer.set(provider.issuer, provider);
    }
  }

  async authenticate(bearerToken: string): Promise<AuthenticatedUser | null> {
    const issuer = unverifiedIssuer(bearerToken);
    const provider = issuer === null ? undefined : this.byIssuer.get(issuer);
    return provider ? provider.authenticate(bearerToken) : null;
  }
}
