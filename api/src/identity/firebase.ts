import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { FirebaseAuthError, getAuth, type Auth, type DecodedIdToken } from 'firebase-admin/auth';
import type { Logger } from 'pino';
import { DisplayName, ProtocolError } from '@concord/protocol';
import type { AuthenticatedUser, IssuerIdentityProvider } from './provider';

/** The environment variable with which firebase-admin accepts unsigned (Auth emulator) tokens. */
export const FIREBASE_AUTH_EMULATOR_HOST = 'FIREBASE_AUTH_EMULATOR_HOST';

/** What the API keeps of a Firebase account when it first signs in. */
export interface FirebaseProfile {
  /** The Firebase uid (the token's `sub`). */
  uid: string;
  /** 1..64 characters: the `name` claim, else the email's local part. */
  displayName: string;
  avatarUrl?: string;
}

/** Where Firebase accounts become Concord users (the PostgreSQL user store). */
export interface FirebaseUserDirectory {
  /**
   * The Concord user of this Firebase account, created on its first sign-in. Idempotent, also
   * under concurrent calls for the same uid: they all get the one row.
   */
  ensureFirebaseUser(profile: FirebaseProfile): Promise<{ id: string; displayName: string }>;
}

export interface FirebaseIdentityOptions {
  /** FIREBASE_PROJECT_ID: tokens of any other project are refused. */
  projectId: string;
  users: FirebaseUserDirectory;
  /**
   * Set only when the configuration explicitly allows the Auth emulator (tests, development). It
   * must equal process.env.FIREBASE_AUTH_EMULATOR_HOST, which is what firebase-admin reads: an
   * emulator host in the environment that the configuration did not allow is refused.
   */
  emulatorHost?: string;
  /** For firebase-admin's outbound HTTPS (Google's signing certificates), e.g. through a proxy. */
  httpAgent?: Agent;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

const DISPLAY_NAME_MAX = 64;
const FALLBACK_DISPLAY_NAME = 'New user';

/** At most `max` characters (code points, as PostgreSQL's char_length counts them). */
const truncate = (text: string, max: number) => Array.from(text).slice(0, max).join('');

/**
 * The `name` claim, else the email's local part, else a placeholder the user can change: the first
 * that passes the display-name rule every other route applies (a Firebase profile's name is the
 * user's own text too: no control or bidi override characters), shortened to fit.
 */
export function firebaseDisplayName(token: Pick<DecodedIdToken, 'email'> & { name?: unknown }): string {
  for (const candidate of [token.name, token.email?.split('@')[0]]) {
    if (typeof candidate !== 'string') continue;
    const parsed = DisplayName.safeParse(truncate(candidate.normalize('NFC').trim(), DISPLAY_NAME_MAX));
    if (parsed.success) return parsed.data;
  }
  return FALLBACK_DISPLAY_NAME;
}

/**
 * firebase-admin reports every verification failure as a FirebaseAuthError, including "could not
 * fetch Google's public keys". That one is our outage, not a bad token: answering 401 would sign
 * every Firebase user out, so it becomes UNAVAILABLE (503) instead.
 */
const KEY_FETCH_FAILURE = /error while making request|error fetching public keys/i;

function isRejectedToken(error: unknown): boolean {
  if (!(error instanceof FirebaseAuthError)) return false;
  if (error.code === 'auth/internal-error') return false;
  return !KEY_FETCH_FAILURE.test(error.message);
}

/**
 * Firebase sign-in: accepts Firebase ID tokens of one project (verified by firebase-admin against
 * Google's keys; revocation is not checked, for one network call less per request) and maps each
 * Firebase account to a Concord user, creating it on first sight.
 */
export class FirebaseIdentityProvider implements IssuerIdentityProvider {
  readonly issuer: string;
  readonly emulated: boolean;
  private readonly app: App;
  private readonly auth: Auth;
  private readonly users: FirebaseUserDirectory;
  private readonly emulatorHost: string | undefined;
  private readonly logger: FirebaseIdentityOptions['logger'];
  private closing: Promise<void> | undefined;

  constructor(options: FirebaseIdentityOptions) {
    if (!options.projectId) throw new Error('FirebaseIdentityProvider needs a project id');
    this.emulatorHost = options.emulatorHost;
    this.assertEmulatorAllowed();
    this.emulated = this.emulatorHost !== undefined;
    this.issuer = `https://securetoken.google.com/${options.projectId}`;
    this.users = options.users;
    this.logger = options.logger;
    // A named app of our own: several providers (tests, one per API instance) never share state.
    this.app = initializeApp({ projectId: options.projectId, ...(options.httpAgent && { httpAgent: options.httpAgent }) }, `concord-${randomUUID()}`);
    this.auth = getAuth(this.app);
  }

  async authenticate(bearerToken: string): Promise<AuthenticatedUser | null> {
    if (this.closing) throw new ProtocolError('UNAVAILABLE', 'Firebase sign-in is shutting down');
    // firebase-admin reads the variable on every call; never let it change under us.
    this.assertEmulatorAllowed();
    let token: DecodedIdToken;
    try {
      token = await this.auth.verifyIdToken(bearerToken, false);
    } catch (error) {
      if (isRejectedToken(error)) {
        this.logger?.debug({ reason: (error as FirebaseAuthError).code }, 'Firebase ID token refused');
        return null;
      }
      this.logger?.warn({ err: error }, 'cannot verify Firebase ID tokens');
      throw Object.assign(new ProtocolError('UNAVAILABLE', 'Firebase sign-in is unavailable, try again later'), { cause: error });
    }
    const user = await this.users.ensureFirebaseUser({
      uid: token.uid,
      displayName: firebaseDisplayName(token),
      ...(typeof token.picture === 'string' && { avatarUrl: token.picture }),
    });
    return { userId: user.id, displayName: user.displayName };
  }

  /** Releases firebase-admin's resources. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= deleteApp(this.app));
  }

  private assertEmulatorAllowed(): void {
    const inEnvironment = process.env[FIREBASE_AUTH_EMULATOR_HOST]?.trim() || undefined;
    if (inEnvironment !== this.emulatorHost) {
      throw new Error(
        `${FIREBASE_AUTH_EMULATOR_HOST} is ${inEnvironment === undefined ? 'unset' : `"${inEnvironment}"`} in the environment but ` +
          `${this.emulatorHost === undefined ? 'not allowed' : `"${this.emulatorHost}"`} in the configuration: ` +
          'firebase-admin would accept unsigned tokens, refusing',
      );
    }
  }
}
