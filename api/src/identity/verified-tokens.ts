import type { SessionClaims } from '@concord/protocol';

/** Tokens remembered at most; beyond it the oldest go first (a token is verified again, nothing worse). */
const MAX_TOKENS = 20_000;

/**
 * Session tokens whose signature, issuer, audience and claims this process has verified, until
 * they expire: checking an ES256 signature is the largest CPU cost of an authenticated request, and
 * its answer cannot change while the token lives (the signing keys are fixed for the process).
 * Only the token's own validity is remembered: whether its session is still live is asked on every
 * request, so signing out still takes effect at once.
 */
export class VerifiedTokens {
  private readonly tokens = new Map<string, { claims: SessionClaims; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The claims of a token verified before and not expired since. */
  get(token: string): SessionClaims | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry.claims;
    this.tokens.delete(token);
    return undefined;
  }

  /** `expiresAt` in milliseconds since the epoch (the token's `exp`). */
  remember(token: string, claims: SessionClaims, expiresAt: number): void {
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    this.tokens.set(token, { claims, expiresAt });
  }
}
