import type { FirebaseWebConfig } from '../config';

/**
 * Firebase email/password sign-in, loaded only when the deployment configures Firebase (the SDK
 * is a chunk of its own). Firebase keeps its own sign-in across reloads; we keep the Concord
 * session it is exchanged for (see session.ts) and ask Firebase for a fresh ID token when that
 * session runs out.
 */
async function firebaseAuth(config: FirebaseWebConfig) {
  const [{ initializeApp, getApps }, auth] = await Promise.all([import('firebase/app'), import('firebase/auth')]);
  const app = getApps()[0] ?? initializeApp({ apiKey: config.apiKey, authDomain: config.authDomain, projectId: config.projectId });
  const instance = auth.getAuth(app);
  if (config.emulatorUrl && !(instance as { emulatorConfig?: unknown }).emulatorConfig) {
    auth.connectAuthEmulator(instance, config.emulatorUrl, { disableWarnings: true });
  }
  return { auth, instance };
}

/** Firebase's error codes in plain words. */
const MESSAGES: Record<string, string> = {
  'auth/invalid-email': 'That email address does not look right.',
  'auth/missing-password': 'Enter your password.',
  'auth/weak-password': 'Choose a password of at least 8 characters.',
  'auth/email-already-in-use': 'An account with that email address already exists. Sign in instead.',
  'auth/invalid-credential': 'Wrong email address or password.',
  'auth/wrong-password': 'Wrong email address or password.',
  'auth/user-not-found': 'Wrong email address or password.',
  'auth/user-disabled': 'This account has been disabled.',
  'auth/too-many-requests': 'Too many attempts. Wait a moment and try again.',
  'auth/network-request-failed': 'Cannot reach the sign-in service. Check your connection.',
};

export function describeFirebaseError(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('auth/') ? (MESSAGES[code] ?? 'Sign-in failed. Try again.') : null;
}

export async function firebaseSignUp(config: FirebaseWebConfig, email: string, password: string, displayName: string): Promise<string> {
  const { auth, instance } = await firebaseAuth(config);
  const { user } = await auth.createUserWithEmailAndPassword(instance, email, password);
  if (displayName) await auth.updateProfile(user, { displayName });
  // Forced: the first token was minted before the display name was set.
  return user.getIdToken(true);
}

export async function firebaseSignIn(config: FirebaseWebConfig, email: string, password: string): Promise<string> {
  const { auth, instance } = await firebaseAuth(config);
  const { user } = await auth.signInWithEmailAndPassword(instance, email, password);
  return user.getIdToken();
}

/** A fresh ID token of the user Firebase still has signed in, or null. */
export async function firebaseIdToken(config: FirebaseWebConfig): Promise<string | null> {
  const { auth, instance } = await firebaseAuth(config);
  await auth.setPersistence(instance, auth.browserLocalPersistence);
  await instance.authStateReady();
  return instance.currentUser ? instance.currentUser.getIdToken(true) : null;
}

export async function firebaseSignOut(config: FirebaseWebConfig): Promise<void> {
  const { auth, instance } = await firebaseAuth(config);
  await auth.signOut(instance);
}
