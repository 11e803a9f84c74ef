export { createApiApp, MAX_BODY_BYTES, type ApiDeps } from './app';
export { loadConfig, type ApiConfig } from './config';
export { buildApiDeps, startApi, type RunningApi } from './server';
export { loadSigningKeys, signToken, verifyToken, type SignedToken, type SigningKeys } from './keys';
export { openVoicePolicy, VoiceGrantIssuer, type VoicePolicy } from './grants';
export { LocalIdentityProvider, type AuthenticatedUser, type IdentityProvider, type SessionIssuer } from './identity';
export { InMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limit';
export { FileUserStore, UsernameTakenError, type NewUser, type StoredUser, type UserStore } from './users';
export { HttpError } from './http-errors';
