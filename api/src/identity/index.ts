export type { AuthenticatedUser, IdentityProvider, IssuerIdentityProvider, SessionIssuer, SessionRecords } from './provider';
export { LocalIdentityProvider } from './local';
export { CompositeIdentityProvider } from './composite';
export {
  FIREBASE_AUTH_EMULATOR_HOST,
  FirebaseIdentityProvider,
  firebaseDisplayName,
  type FirebaseIdentityOptions,
  type FirebaseProfile,
  type FirebaseUserDirectory,
} from './firebase';
export { buildIdentity, type Identity, type IdentityConfig } from './build';
