import type { Logger } from 'pino';
import type { ApiConfig } from '../config';
import type { SigningKeys } from '../keys';
import type { UserStore } from '../users';
import { CompositeIdentityProvider } from './composite';
import { FirebaseIdentityProvider, type FirebaseUserDirectory } from './firebase';
import { LocalIdentityProvider } from './local';
import type { IdentityProvider, SessionIssuer, SessionRecords } from './provider';

export interface Identity {
  /** Mints our own sessions (local sign-in). */
  sessions: SessionIssuer;
  /** Accepts our sessions, and Firebase ID tokens when FIREBASE_PROJECT_ID is set. */
  identity: IdentityProvider;
  /** Releases the Firebase client, if any. Idempotent. */
  close(): Promise<void>;
}

export type IdentityConfig = Pick<ApiConfig, 'sessionTtlSeconds' | 'firebaseProjectId' | 'firebaseAuthEmulatorHost'>;

const isFirebaseUserDirectory = (users: object): users is FirebaseUserDirectory =>
  typeof (users as Partial<FirebaseUserDirectory>).ensureFirebaseUser === 'function';

/**
 * Sign-in as configured: our own sessions always; Firebase ID tokens beside them when a Firebase
 * project is configured, which needs a user store that can create Firebase users (PostgreSQL).
 */
export function buildIdentity(config: IdentityConfig, keys: SigningKeys, users: UserStore, records: SessionRecords, logger: Logger): Identity {
  const local = new LocalIdentityProvider(keys, config.sessionTtlSeconds, records);
  if (!config.firebaseProjectId) return { sessions: local, identity: local, close: async () => undefined };
  if (!isFirebaseUserDirectory(users)) {
    throw new Error('FIREBASE_PROJECT_ID is set, but Firebase sign-in needs the PostgreSQL user store, and this API keeps users in a file');
  }
  if (config.firebaseAuthEmulatorHost) {
    logger.warn(
      { firebaseAuthEmulatorHost: config.firebaseAuthEmulatorHost },
      '!!! FIREBASE AUTH EMULATOR MODE: Firebase ID tokens are NOT signature-checked, anyone can sign in as anyone. ' +
        'For tests and development only: never set FIREBASE_AUTH_EMULATOR_HOST / ALLOW_FIREBASE_AUTH_EMULATOR in production !!!',
    );
  }
  const firebase = new FirebaseIdentityProvider({
    projectId: config.firebaseProjectId,
    users,
    ...(config.firebaseAuthEmulatorHost && { emulatorHost: config.firebaseAuthEmulatorHost }),
    logger: logger.child({ component: 'firebase-identity' }),
  });
  return { sessions: local, identity: new CompositeIdentityProvider([local, firebase]), close: () => firebase.close() };
}
