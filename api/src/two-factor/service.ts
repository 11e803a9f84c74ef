import { createHash, randomInt } from 'node:crypto';
import type { PasskeyAssertion, PasskeyRegistration, SecondFactorChallenge, SecondFactorMethod, SecondFactorProof, TwoFactorStatus, WebAuthnOptions } from '@concord/protocol';
import { HttpError } from '../http-errors';
import { signToken, verifyToken, type SigningKeys } from '../keys';
import type { RateLimiter } from '../rate-limit';
import type { PasskeyRelyingParty } from './passkeys';
import type { SecretBox } from './secret-box';
import type { TwoFactorStore } from './store';
import { matchingStep, newTotpSecret, totpStepAt, totpUri } from './totp';

/** The audience of the token between "password right" and "second factor right". */
export const CHALLENGE_AUDIENCE = 'concord-second-factor';
/** How long a sign-in waits for its second factor. */
export const CHALLENGE_TTL_SECONDS = 5 * 60;
export const RECOVERY_CODE_COUNT = 10;
/** One 30 s step either side of now: clocks drift and people type slowly, and more widens guessing. */
const TOTP_TOLERANCE_STEPS = 1;
const ISSUER = 'Concord';
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export interface TwoFactorServiceDeps {
  store: TwoFactorStore;
  box: SecretBox;
  passkeys: PasskeyRelyingParty;
  keys: SigningKeys;
  /** Wrong codes per account; `failureLimit` of them and every code is refused until the window ends. */
  failures: RateLimiter;
  failureLimit: number;
  /** Whether the user has two-factor sign-in (cached: GuildData.twoFactor). */
  enabled(userId: string): Promise<boolean>;
  /** Drops the cached answer of `enabled` after a change. */
  changed(userId: string): Promise<void>;
}

const hashRecoveryCode = (code: string): string => createHash('sha256').update(code.toLowerCase().replace('-', '')).digest('base64url');

function newRecoveryCode(): string {
  const letters = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return `${letters.slice(0, 5)}-${letters.slice(5)}`;
}

const wrongCode = () => new HttpError('INVALID_CREDENTIALS', 'wrong or already used code');

/**
 * Two-factor sign-in for an account: TOTP enrolment, recovery codes, passkeys, the sign-in
 * challenge, and the check of a second factor, which is rate-limited per account (a wrong code of
 * any kind counts) and single-use (a TOTP code's time step, a recovery code, a WebAuthn challenge).
 */
export class TwoFactorService {
  constructor(private readonly deps: TwoFactorServiceDeps) {}

  enabled(userId: string): Promise<boolean> {
    return this.deps.enabled(userId);
  }

  async status(userId: string): Promise<TwoFactorStatus> {
    const { store } = this.deps;
    const [totp, passkeys, recoveryCodesLeft] = await Promise.all([store.totp(userId), store.passkeys(userId), store.recoveryCodesLeft(userId)]);
    return {
      enabled: Boolean(totp?.confirmed) || passkeys.length > 0,
      totp: Boolean(totp?.confirmed),
      passkeys: passkeys.map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt })),
      recoveryCodesLeft,
    };
  }

  /** A new TOTP secret waiting for its first code; the only time the secret leaves the server. */
  async beginTotp(userId: string, accountName: string): Promise<{ secret: string; uri: string }> {
    const secret = newTotpSecret();
    if (!(await this.deps.store.beginTotp(userId, this.deps.box.seal(secret, userId)))) {
      throw new HttpError('CONFLICT', 'the authenticator app is set up already: turn two-factor sign-in off first to change it');
    }
    return { secret, uri: totpUri(ISSUER, accountName, secret) };
  }

  /** Turns TOTP on with the app's first code; the recovery codes, if the account had none. */
  async confirmTotp(userId: string, code: string): Promise<string[]> {
    const totp = await this.deps.store.totp(userId);
    if (!totp || totp.confirmed) throw new HttpError('CONFLICT', totp ? 'the authenticator app is set up already' : 'start the set-up first');
    await this.guarded(userId, async () => {
      const step = this.totpStep(userId, totp.secretBox, code, totp.lastStep);
      return step !== null && (await this.deps.store.useStep(userId, step, true));
    });
    await this.deps.changed(userId);
    return this.recoveryCodesIfNone(userId);
  }

  async passkeyRegistrationOptions(user: { id: string; name: string; displayName: string }): Promise<WebAuthnOptions> {
    return this.deps.passkeys.registrationOptions(user);
  }

  /** Adds a passkey; the recovery codes, if the account had none. */
  async registerPasskey(userId: string, name: string, registration: PasskeyRegistration): Promise<string[]> {
    const credential = await this.deps.passkeys.verifyRegistration(userId, registration);
    if (!credential) throw new HttpError('BAD_REQUEST', 'the passkey could not be verified: try again');
    if (!(await this.deps.store.addPasskey(userId, { ...credential, name }))) throw new HttpError('CONFLICT', 'this passkey is registered already');
    await this.deps.changed(userId);
    return this.recoveryCodesIfNone(userId);
  }

  /** Options to assert a passkey of the user (sign-in, or a fresh factor); NOT_FOUND without passkeys. */
  async passkeyAssertionOptions(userId: string): Promise<WebAuthnOptions> {
    const options = await this.deps.passkeys.authenticationOptions(userId);
    if (!options) throw new HttpError('NOT_FOUND', 'this account has no passkey');
    return options;
  }

  /** The token a right password (or Firebase sign-in) of a two-factor account is answered with. */
  async challenge(userId: string): Promise<SecondFactorChallenge> {
    const { token, expiresAt } = await signToken(this.deps.keys, CHALLENGE_AUDIENCE, { sub: userId }, CHALLENGE_TTL_SECONDS);
    const status = await this.status(userId);
    const methods: SecondFactorMethod[] = [...(status.totp ? ['totp' as const] : []), 'recovery', ...(status.passkeys.length > 0 ? ['passkey' as const] : [])];
    return { secondFactor: { challenge: token, expiresAt, methods } };
  }

  /** The user a challenge token is for; 401 if it is forged or expired. */
  async userOfChallenge(token: string): Promise<string> {
    const payload = await verifyToken(this.deps.keys, token, CHALLENGE_AUDIENCE);
    if (typeof payload?.sub !== 'string') throw new HttpError('UNAUTHENTICATED', 'the sign-in has expired: sign in again');
    return payload.sub;
  }

  /** Checks a fresh second factor of the user: a TOTP code, a recovery code or a passkey assertion. Throws if wrong. */
  async check(userId: string, proof: SecondFactorProof): Promise<void> {
    if ('passkey' in proof) {
      const assertion: PasskeyAssertion = proof.passkey;
      await this.guarded(userId, () => this.deps.passkeys.verifyAssertion(userId, assertion));
      return;
    }
    const code = proof.code;
    await this.guarded(userId, async () => {
      if (!/^\d{6}$/.test(code)) return this.deps.store.useRecoveryCode(userId, hashRecoveryCode(code));
      const totp = await this.deps.store.totp(userId);
      if (!totp?.confirmed) return false;
      const step = this.totpStep(userId, totp.secretBox, code, totp.lastStep);
      return step !== null && (await this.deps.store.useStep(userId, step, false));
    });
  }

  /** Turns two-factor sign-in off (after `check`): the secret, passkeys and recovery codes go. */
  async disable(userId: string): Promise<void> {
    await this.deps.store.removeAll(userId);
    await this.deps.changed(userId);
  }

  /** New recovery codes (after `check`); the old ones stop working. */
  async replaceRecoveryCodes(userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.deps.store.replaceRecoveryCodes(userId, codes.map(hashRecoveryCode));
    return codes;
  }

  private async recoveryCodesIfNone(userId: string): Promise<string[]> {
    return (await this.deps.store.recoveryCodesLeft(userId)) > 0 ? [] : this.replaceRecoveryCodes(userId);
  }

  /** The code's time step if it is right for a step after `lastStep`; null otherwise. */
  private totpStep(userId: string, secretBox: string, code: string, lastStep: number): number | null {
    const secret = this.deps.box.open(secretBox, userId);
    const now = totpStepAt(Date.now());
    const steps: number[] = [];
    for (let step = now - TOTP_TOLERANCE_STEPS; step <= now + TOTP_TOLERANCE_STEPS; step++) if (step > lastStep) steps.push(step);
    return matchingStep(secret, code, steps);
  }

  /**
   * Runs one attempt: refused at once (429) while the account is over its wrong-code limit; a
   * wrong answer counts towards it and is INVALID_CREDENTIALS.
   */
  private async guarded(userId: string, attempt: () => Promise<boolean>): Promise<void> {
    const key = `second-factor:${userId}`;
    const count = await this.deps.failures.peek(key);
    if (count.count >= this.deps.failureLimit) {
      throw new HttpError('RATE_LIMITED', `too many wrong codes: try again in ${count.retryAfterSeconds} s`, { 'Retry-After': String(count.retryAfterSeconds) });
    }
    if (await attempt()) return;
    await this.deps.failures.consume(key);
    throw wrongCode();
  }
}
