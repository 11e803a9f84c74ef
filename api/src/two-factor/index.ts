export { SecretBox } from './secret-box';
export { TwoFactorStore } from './store';
export { PasskeyRelyingParty } from './passkeys';
export { CHALLENGE_AUDIENCE, CHALLENGE_TTL_SECONDS, RECOVERY_CODE_COUNT, TwoFactorService, type TwoFactorServiceDeps } from './service';
export { registerTwoFactorRoutes, type TwoFactorRouteDeps } from './routes';
