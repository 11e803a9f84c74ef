import type { Request } from 'express';
import {
  PasskeyChallengeRequest,
  RecoveryCodesResponse,
  RegisterPasskeyRequest,
  SecondFactorProof,
  SessionResponse,
  TotpConfirmRequest,
  TotpSetupResponse,
  TwoFactorStatus,
  VerifyCodeRequest,
  VerifyPasskeyRequest,
  WebAuthnOptions,
} from '@concord/protocol';
import { HttpError } from '../http-errors';
import { NoContent, type RouteTable } from '../http/route-table';
import type { SessionIssuer } from '../identity';
import { sessionClientOf } from '../sessions';
import { toPublicUser, type UserStore } from '../users';
import type { TwoFactorService } from './service';

export interface TwoFactorRouteDeps {
  twoFactor: TwoFactorService;
  sessions: SessionIssuer;
  users: UserStore;
  /** The per-IP limit of sign-in attempts (AUTH_RATE_LIMIT). */
  limitByIp(req: Request): Promise<void>;
}

/**
 * Two-factor sign-in: the account's settings (session routes) and the second step of signing in
 * (challenge routes: the challenge token from sign-in, not a session, says who is signing in).
 */
export function registerTwoFactorRoutes(table: RouteTable, deps: TwoFactorRouteDeps): void {
  const { twoFactor, users } = deps;

  const account = async (userId: string) => {
    const found = await users.findById(userId);
    if (!found) throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
    return found;
  };

  table.add({ method: 'get', path: '/auth/2fa', summary: "The account's second factors", tag: 'two-factor', response: TwoFactorStatus }, async ({ user }) => twoFactor.status(user.userId));

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/totp',
      summary: 'Start setting up an authenticator app: its secret (shown this once) and otpauth:// URI for a QR code',
      tag: 'two-factor',
      response: TotpSetupResponse,
    },
    async ({ user }) => {
      const found = await account(user.userId);
      return twoFactor.beginTotp(user.userId, found.username);
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/totp/confirm',
      summary: "Turn the authenticator app on with its first code; answers the recovery codes (shown this once) if the account had none",
      tag: 'two-factor',
      body: TotpConfirmRequest,
      response: RecoveryCodesResponse,
    },
    async ({ user, body }) => ({ recoveryCodes: await twoFactor.confirmTotp(user.userId, body.code) }),
  );

  table.add(
    { method: 'post', path: '/auth/2fa/passkeys/options', summary: 'WebAuthn options to register a passkey', tag: 'two-factor', response: WebAuthnOptions },
    async ({ user }) => {
      const found = await account(user.userId);
      return twoFactor.passkeyRegistrationOptions({ id: found.id, name: found.username, displayName: found.displayName });
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/passkeys',
      summary: 'Register a passkey as a second factor; answers the recovery codes if the account had none',
      tag: 'two-factor',
      body: RegisterPasskeyRequest,
      response: RecoveryCodesResponse,
      status: 201,
    },
    async ({ user, body }) => ({ recoveryCodes: await twoFactor.registerPasskey(user.userId, body.name, body.passkey) }),
  );

  table.add(
    { method: 'post', path: '/auth/2fa/assertion-options', summary: 'WebAuthn options to prove a passkey now (to turn two-factor sign-in off)', tag: 'two-factor', response: WebAuthnOptions },
    async ({ user }) => twoFactor.passkeyAssertionOptions(user.userId),
  );

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/disable',
      summary: 'Turn two-factor sign-in off; needs a fresh code, recovery code or passkey',
      tag: 'two-factor',
      body: SecondFactorProof,
      response: NoContent,
      status: 204,
    },
    async ({ user, body }) => {
      await twoFactor.check(user.userId, body);
      await twoFactor.disable(user.userId);
      return undefined;
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/recovery-codes',
      summary: 'New recovery codes (the old ones stop working); needs a fresh code, recovery code or passkey',
      tag: 'two-factor',
      body: SecondFactorProof,
      response: RecoveryCodesResponse,
    },
    async ({ user, body }) => {
      if (!(await twoFactor.enabled(user.userId))) throw new HttpError('CONFLICT', 'two-factor sign-in is off');
      await twoFactor.check(user.userId, body);
      return { recoveryCodes: await twoFactor.replaceRecoveryCodes(user.userId) };
    },
  );

  /** The second step of signing in: the challenge says who, the proof makes the session. */
  const secondStep = async (req: Request, challenge: string, proof: SecondFactorProof) => {
    await deps.limitByIp(req);
    const userId = await twoFactor.userOfChallenge(challenge);
    await twoFactor.check(userId, proof);
    return deps.sessions.issueSession(toPublicUser(await account(userId)), sessionClientOf(req));
  };

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/verify',
      summary: 'Second step of signing in: the challenge and a code from the authenticator app (or a recovery code) make the session',
      tag: 'two-factor',
      auth: false,
      body: VerifyCodeRequest,
      response: SessionResponse,
    },
    async ({ body, req }) => secondStep(req, body.challenge, { code: body.code }),
  );

  table.add(
    { method: 'post', path: '/auth/2fa/passkey-options', summary: 'Second step of signing in with a passkey: the WebAuthn options', tag: 'two-factor', auth: false, body: PasskeyChallengeRequest, response: WebAuthnOptions },
    async ({ body, req }) => {
      await deps.limitByIp(req);
      return twoFactor.passkeyAssertionOptions(await twoFactor.userOfChallenge(body.challenge));
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/2fa/verify-passkey',
      summary: 'Second step of signing in: the challenge and a passkey assertion make the session',
      tag: 'two-factor',
      auth: false,
      body: VerifyPasskeyRequest,
      response: SessionResponse,
    },
    async ({ body, req }) => secondStep(req, body.challenge, { passkey: body.passkey }),
  );
}
