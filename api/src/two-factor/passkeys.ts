import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransportFuture,
} from '@simplewebauthn/server';
import type { PasskeyAssertion, PasskeyRegistration, WebAuthnOptions } from '@concord/protocol';
import type { TwoFactorConfig } from '../config';
import type { PasskeyRecord, TwoFactorStore, WebAuthnPurpose } from './store';

/** How long a browser has to answer a WebAuthn challenge. */
const CHALLENGE_TTL_MS = 5 * 60_000;

/** The challenge a credential signed and the origin the browser reports, from its clientDataJSON (checked again by the library). */
function clientDataOf(clientDataJSON: string): { challenge: string; origin: string } | null {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown; origin?: unknown };
    return typeof data.challenge === 'string' && typeof data.origin === 'string' ? { challenge: data.challenge, origin: data.origin } : null;
  } catch {
    return null;
  }
}

/** Whether `origin` is served from the RP id's host or a subdomain of it (https, or http on localhost). */
function originUnderRpId(origin: string, rpId: string): boolean {
  try {
    const url = new URL(origin);
    const secure = url.protocol === 'https:' || (url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1'));
    return secure && url.origin === origin && (url.hostname === rpId || url.hostname.endsWith(`.${rpId}`));
  } catch {
    return false;
  }
}

/**
 * Passkeys (WebAuthn) as a second factor: registration and assertion through
 * @simplewebauthn/server. Every challenge is stored and taken by its one answer, so an assertion
 * cannot be replayed; the relying party id and origins come from the configuration.
 */
export class PasskeyRelyingParty {
  constructor(
    private readonly store: TwoFactorStore,
    private readonly config: TwoFactorConfig,
  ) {}

  async registrationOptions(user: { id: string; name: string; displayName: string }): Promise<WebAuthnOptions> {
    const existing = await this.store.passkeys(user.id);
    const options = await generateRegistrationOptions({
      rpName: 'Concord',
      rpID: this.config.rpId,
      userName: user.name,
      userDisplayName: user.displayName,
      userID: new Uint8Array(Buffer.from(user.id)),
      attestationType: 'none',
      excludeCredentials: existing.map((passkey) => ({ id: passkey.id, transports: passkey.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.store.saveChallenge(options.challenge, user.id, 'register', Date.now() + CHALLENGE_TTL_MS);
    return options as unknown as WebAuthnOptions;
  }

  /** The verified new credential, or null (wrong challenge, origin or RP id; a bad attestation). */
  async verifyRegistration(userId: string, response: PasskeyRegistration): Promise<Pick<PasskeyRecord, 'id' | 'publicKey' | 'counter' | 'transports'> | null> {
    const origin = await this.checkedOrigin(userId, response.response.clientDataJSON, 'register');
    if (!origin) return null;
    const result = await verifyRegistrationResponse({
      response: response as Parameters<typeof verifyRegistrationResponse>[0]['response'],
      expectedChallenge: () => true, // taken from the store in checkedOrigin
      expectedOrigin: origin,
      expectedRPID: this.config.rpId,
      requireUserVerification: false,
    }).catch(() => null);
    if (!result?.verified) return null;
    const { credential } = result.registrationInfo;
    return { id: credential.id, publicKey: credential.publicKey, counter: credential.counter, transports: credential.transports ?? [] };
  }

  /** Options to assert one of the user's passkeys; null if the user has none. */
  async authenticationOptions(userId: string): Promise<WebAuthnOptions | null> {
    const passkeys = await this.store.passkeys(userId);
    if (passkeys.length === 0) return null;
    const options = await generateAuthenticationOptions({
      rpID: this.config.rpId,
      allowCredentials: passkeys.map((passkey) => ({ id: passkey.id, transports: passkey.transports as AuthenticatorTransportFuture[] })),
      userVerification: 'preferred',
    });
    await this.store.saveChallenge(options.challenge, userId, 'authenticate', Date.now() + CHALLENGE_TTL_MS);
    return options as unknown as WebAuthnOptions;
  }

  /** Whether the assertion is by one of the user's passkeys, over a challenge handed out to them and not used. */
  async verifyAssertion(userId: string, assertion: PasskeyAssertion): Promise<boolean> {
    const passkey = await this.store.passkey(userId, assertion.id);
    if (!passkey) return false;
    const origin = await this.checkedOrigin(userId, assertion.response.clientDataJSON, 'authenticate');
    if (!origin) return false;
    const result = await verifyAuthenticationResponse({
      response: assertion as Parameters<typeof verifyAuthenticationResponse>[0]['response'],
      expectedChallenge: () => true, // taken from the store in checkedOrigin
      expectedOrigin: origin,
      expectedRPID: this.config.rpId,
      credential: { id: passkey.id, publicKey: passkey.publicKey as Uint8Array<ArrayBuffer>, counter: passkey.counter, transports: passkey.transports as AuthenticatorTransportFuture[] },
      requireUserVerification: false,
    }).catch(() => null);
    if (!result?.verified) return false;
    await this.store.passkeyUsed(passkey.id, result.authenticationInfo.newCounter);
    return true;
  }

  /**
   * Takes the signed challenge from the store (so it answers once) and returns the origin the
   * browser reports if it is an allowed one; null otherwise.
   */
  private async checkedOrigin(userId: string, clientDataJSON: string, purpose: WebAuthnPurpose): Promise<string | null> {
    const data = clientDataOf(clientDataJSON);
    if (!data) return null;
    const { challenge, origin } = data;
    const allowed = this.config.origins ? this.config.origins.includes(origin) : originUnderRpId(origin, this.config.rpId);
    if (!allowed || !(await this.store.takeChallenge(challenge, userId, purpose))) return null;
    return origin;
  }
}
