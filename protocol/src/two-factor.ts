import { z } from 'zod';
import { Permission } from './permissions';
import { SessionResponse } from './auth';

/**
 * Two-factor sign-in: a password (or a Firebase sign-in) that is right is answered, for an account
 * with a second factor, by a short-lived challenge instead of a session; the challenge and a TOTP
 * code, a recovery code or a passkey assertion make the session.
 */

/** base64url, as WebAuthn's JSON encodings carry binary fields. */
const Base64Url = z.string().max(8192).regex(/^[A-Za-z0-9_-]*$/, 'base64url');

/** A TOTP code (6 digits) or a recovery code (10 letters and digits, a dash in the middle optional). */
export const SecondFactorCode = z
  .string()
  .trim()
  .regex(/^(\d{6}|[a-z0-9]{5}-?[a-z0-9]{5})$/i, 'a 6-digit code from the authenticator app, or a recovery code');
export type SecondFactorCode = z.infer<typeof SecondFactorCode>;

export const TotpCode = z.string().trim().regex(/^\d{6}$/, 'the 6-digit code from the authenticator app');

/** The signed token between "password right" and "second factor right"; not a session. */
export const ChallengeToken = z.string().min(1).max(2048);

export const SecondFactorMethod = z.enum(['totp', 'recovery', 'passkey']);
export type SecondFactorMethod = z.infer<typeof SecondFactorMethod>;

export const SecondFactorChallenge = z.object({
  secondFactor: z.object({ challenge: ChallengeToken, expiresAt: z.number(), methods: z.array(SecondFactorMethod) }),
});
export type SecondFactorChallenge = z.infer<typeof SecondFactorChallenge>;

/** What sign-in answers: a session, or (two-factor accounts) a challenge. */
export const SignInResponse = z.union([SessionResponse, SecondFactorChallenge]);
export type SignInResponse = z.infer<typeof SignInResponse>;

export const isSecondFactorChallenge = (response: SignInResponse): response is SecondFactorChallenge => 'secondFactor' in response;

/** WebAuthn's PublicKeyCredential as JSON (what @simplewebauthn/browser returns). */
const CredentialBase = {
  id: Base64Url.min(1),
  rawId: Base64Url.min(1),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};

export const PasskeyRegistration = z.object({
  ...CredentialBase,
  response: z.object({
    clientDataJSON: Base64Url,
    attestationObject: Base64Url,
    authenticatorData: Base64Url.optional(),
    transports: z.array(z.string().max(32)).max(10).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: Base64Url.optional(),
  }),
});
export type PasskeyRegistration = z.infer<typeof PasskeyRegistration>;

export const PasskeyAssertion = z.object({
  ...CredentialBase,
  response: z.object({
    clientDataJSON: Base64Url,
    authenticatorData: Base64Url,
    signature: Base64Url,
    userHandle: Base64Url.optional(),
  }),
});
export type PasskeyAssertion = z.infer<typeof PasskeyAssertion>;

/** WebAuthn options for the browser (navigator.credentials), passed through as the library makes them. */
export const WebAuthnOptions = z.record(z.string(), z.unknown());
export type WebAuthnOptions = z.infer<typeof WebAuthnOptions>;

export const PasskeyInfo = z.object({ id: z.string(), name: z.string(), createdAt: z.number(), lastUsedAt: z.number().nullable() });
export type PasskeyInfo = z.infer<typeof PasskeyInfo>;

export const PasskeyName = z.string().trim().min(1).max(64).regex(/^[^\p{Cc}\p{Cf}]+$/u, 'no control characters');

export const TwoFactorStatus = z.object({
  enabled: z.boolean(),
  totp: z.boolean(),
  passkeys: z.array(PasskeyInfo),
  recoveryCodesLeft: z.number().int(),
});
export type TwoFactorStatus = z.infer<typeof TwoFactorStatus>;

/** Enrolment: the secret is shown this once (and as a QR code of `uri`), never again. */
export const TotpSetupResponse = z.object({ secret: z.string(), uri: z.string() });
export type TotpSetupResponse = z.infer<typeof TotpSetupResponse>;

export const TotpConfirmRequest = z.object({ code: TotpCode }).strict();

/** Shown once; each works once, in place of a code. Empty when codes existed already. */
export const RecoveryCodesResponse = z.object({ recoveryCodes: z.array(z.string()) });
export type RecoveryCodesResponse = z.infer<typeof RecoveryCodesResponse>;

/** A fresh second factor, for changes to two-factor sign-in itself (disabling, new recovery codes). */
export const SecondFactorProof = z.union([z.object({ code: SecondFactorCode }).strict(), z.object({ passkey: PasskeyAssertion }).strict()]);
export type SecondFactorProof = z.infer<typeof SecondFactorProof>;

export const VerifyCodeRequest = z.object({ challenge: ChallengeToken, code: SecondFactorCode }).strict();
export const PasskeyChallengeRequest = z.object({ challenge: ChallengeToken }).strict();
export const VerifyPasskeyRequest = z.object({ challenge: ChallengeToken, passkey: PasskeyAssertion }).strict();
export const RegisterPasskeyRequest = z.object({ name: PasskeyName, passkey: PasskeyRegistration }).strict();

/**
 * The permissions that make a member a moderator (Discord's list, in our bits): with a server's
 * "moderators must have 2FA" rule on, they act only for members with two-factor sign-in.
 */
export const MODERATOR_PERMISSIONS: number =
  Permission.ADMINISTRATOR |
  Permission.KICK_MEMBERS |
  Permission.BAN_MEMBERS |
  Permission.MANAGE_SERVER |
  Permission.MANAGE_CHANNELS |
  Permission.MANAGE_ROLES |
  Permission.MANAGE_MESSAGES |
  Permission.MUTE_MEMBERS |
  Permission.DEAFEN_MEMBERS |
  Permission.MOVE_MEMBERS;

export const ModeratorTwoFactorRule = z.object({ required: z.boolean() }).strict();
export type ModeratorTwoFactorRule = z.infer<typeof ModeratorTwoFactorRule>;
