export { ClientConfig, createApiApp, createApiRoutes, MAX_BODY_BYTES, type ApiDeps } from './app';
export { loadConfig, type ApiConfig } from './config';
export { buildApiDeps, startApi, type ApiDepsOptions, type BuiltApiDeps, type RunningApi } from './server';
export { loadSigningKeys, signToken, verifyToken, type SignedToken, type SigningKeys } from './keys';
export { openVoicePolicy, VoiceGrantIssuer, type VoicePolicy } from './grants';
export {
  buildIdentity,
  CompositeIdentityProvider,
  FirebaseIdentityProvider,
  LocalIdentityProvider,
  type AuthenticatedUser,
  type FirebaseProfile,
  type FirebaseUserDirectory,
  type Identity,
  type IdentityProvider,
  type IssuerIdentityProvider,
  type SessionIssuer,
} from './identity';
export { InMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limit';
export { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './rate-limit-redis';
export { ApiRateLimits, DEFAULT_RATE_LIMITS, type LimitedAction, type RateLimitRules, type RateRule } from './rate-limits';
export { ChannelEvents, MessageStore, registerMessageRoutes, type MessageDeps, type MessageRoutes } from './messages';
export { FileUserStore, UsernameTakenError, type NewUser, type StoredUser, type UserStore } from './users';
export { PgUserStore } from './users-pg';
export { HttpError } from './http-errors';
export { securityHeaders, webContentSecurityPolicy, type WebPolicyOptions } from './http/security-headers';
export { InProcessRealtimePublisher, RedisRealtimePublisher, type Audience, type RealtimePublisher, type RedisRealtimePublisherOptions } from './realtime';
export { GuildAccess, GuildData, type AccessService, type ChannelAccess, type ServerAccess } from './access';
export { CachedLoader, MemoryCache, RedisCache, type Cache } from './cache';
export { ApiMetrics } from './metrics';
export { channelVoicePolicy, type PresenceReader } from './guild';
