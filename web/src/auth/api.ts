import type { LocalSignInRequest, LocalSignUpRequest, PasskeyAssertion, PublicUser, SessionResponse, SignInResponse, WebAuthnOptions } from '@concord/protocol';
import { request } from '../api/http';

export const signUp = (body: LocalSignUpRequest) => request<SessionResponse>('POST', '/api/auth/local/signup', { body });

/** A session, or for an account with two-factor sign-in the challenge of the second step. */
export const signIn = (body: LocalSignInRequest) => request<SignInResponse>('POST', '/api/auth/local/signin', { body });

/** A Firebase ID token for a Concord session (the signaling socket takes Concord sessions only), or a second-factor challenge. */
export const firebaseSession = (idToken: string) => request<SignInResponse>('POST', '/api/auth/firebase/session', { token: idToken });

/** The second step of signing in: a code from the authenticator app, or a recovery code. */
export const verifySecondFactor = (challenge: string, code: string) => request<SessionResponse>('POST', '/api/auth/2fa/verify', { body: { challenge, code } });

export const passkeySignInOptions = (challenge: string) => request<WebAuthnOptions>('POST', '/api/auth/2fa/passkey-options', { body: { challenge } });

export const verifyPasskey = (challenge: string, passkey: PasskeyAssertion) => request<SessionResponse>('POST', '/api/auth/2fa/verify-passkey', { body: { challenge, passkey } });

/** Ends the session on the server: its token and sockets stop working at once. */
export const signOutSession = (token: string) => request<void>('POST', '/api/auth/sign-out', { token });

/** Resolves while the token is still good; rejects with UNAUTHENTICATED when it is not. */
export const checkSession = (token: string) => request<PublicUser>('GET', '/api/me', { token });
