export { SESSION_CACHE_TTL_SECONDS, SessionService, type RevocationRecorder, type SessionServiceDeps } from './sessions';
export { SessionStore, type RevokedSession, type SessionClient, type SessionRecord, type SessionState } from './store';
export { registerSessionRoutes, sessionClientOf, type SessionRouteDeps } from './routes';
