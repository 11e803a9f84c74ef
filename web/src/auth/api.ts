import type { LocalSignInRequest, LocalSignUpRequest, PublicUser, SessionResponse } from '@concord/protocol';
import { request } from '../api/http';

export const signUp = (body: LocalSignUpRequest) => request<SessionResponse>('POST', '/api/auth/local/signup', { body });

export const signIn = (body: LocalSignInRequest) => request<SessionResponse>('POST', '/api/auth/local/signin', { body });

/** A Firebase ID token for a Concord session (the signaling socket takes Concord sessions only). */
export const firebaseSession = (idToken: string) => request<SessionResponse>('POST', '/api/auth/firebase/session', { token: idToken });

/** Ends the session on the server: its token and sockets stop working at once. */
export const signOutSession = (token: string) => request<void>('POST', '/api/auth/sign-out', { token });

/** Resolves while the token is still good; rejects with UNAUTHENTICATED when it is not. */
export const checkSession = (token: string) => request<PublicUser>('GET', '/api/me', { token });
