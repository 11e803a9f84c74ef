import path from 'node:path';
import { rateRulesFromEnv, type RateLimitRules } from './rate-limits';

/** Everything the API reads from the environment, parsed and validated once at start. */
export interface ApiConfig {
  /** API_HOST, default 0.0.0.0. */
  host: string;
  /** API_PORT, default 3001; 0 picks a free port. */
  port: number;
  /** CONCORD_DATA_DIR, default ./data (resolved to an absolute path). Holds users and the signing key. */
  dataDir: string;
  /** API_PRIVATE_KEY_PEM (PKCS#8, P-256). Unset: a key is generated once and kept in the data dir. */
  privateKeyPem?: string;
  /** API_PUBLIC_KEY_PEM (SPKI). Optional even with a private key: it is derived from it. */
  publicKeyPem?: string;
  /** SESSION_TTL, default 7d. Seconds, or a number with s/m/h/d. */
  sessionTtlSeconds: number;
  /** GRANT_TTL, default 60s. */
  grantTtlSeconds: number;
  /** AUTH_RATE_LIMIT, default 10: sign-in/sign-up attempts per minute, per IP and per user name. */
  authAttemptsPerMinute: number;
  /**
   * API_TRUST_PROXY, default unset (trust none): Express's `trust proxy` setting. Behind a reverse
   * proxy set it (e.g. `loopback` or a hop count), or every client shares the proxy's rate limit.
   */
  trustProxy?: string | number | boolean;
  /** LOG_LEVEL, default info. */
  logLevel: string;
  /** FIREBASE_PROJECT_ID, default unset: Firebase sign-in off. Set: Firebase ID tokens of this project are accepted beside local sessions. */
  firebaseProjectId?: string;
  /**
   * FIREBASE_AUTH_EMULATOR_HOST, tests and development only: firebase-admin then accepts the Auth
   * emulator's unsigned tokens, so anyone could sign in as anyone. Refused unless
   * ALLOW_FIREBASE_AUTH_EMULATOR=1 is set as well.
   */
  firebaseAuthEmulatorHost?: string;
  /** DATABASE_URL (postgres://…), default unset: embedded PostgreSQL (PGlite) in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** REDIS_URL, default unset: the cache (and real-time publishing) stay in this process. */
  redisUrl?: string;
  /** REDIS_KEY_PREFIX, default `concord:`: the namespace of every Redis key, shared with signaling. */
  redisKeyPrefix: string;
  /** METRICS_TOKEN, default unset: GET /api/metrics is open. Set: it needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /**
   * FIREBASE_WEB_API_KEY, default unset: the Firebase web API key (public) the web client's SDK
   * needs; served with the project id at GET /api/config. Without it the web client offers local
   * sign-in only.
   */
  firebaseWebApiKey?: string;
  /**
   * Abuse limits as `count/window` (e.g. `10/10s`), each unset one at its default (README "Rate
   * limits"): MESSAGE_RATE_LIMIT, MESSAGE_IP_RATE_LIMIT, INVITE_RATE_LIMIT, INVITE_IP_RATE_LIMIT,
   * JOIN_RATE_LIMIT, JOIN_IP_RATE_LIMIT, REACTION_RATE_LIMIT, DUPLICATE_MESSAGE_LIMIT.
   */
  rateLimits: Partial<RateLimitRules>;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function parseDurationSeconds(name: string, raw: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? 1) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new Error(`${name} must be a duration like 60, 60s, 15m, 12h or 7d (got "${raw}")`);
  return seconds;
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in ${min}..${max} (got "${raw}")`);
  return value;
}

function parseTrustProxy(raw: string): string | number | boolean {
  const value = raw.trim();
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** Firebase's rule: 6..30 lower-case letters, digits and hyphens, starting with a letter. */
const FIREBASE_PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** A PEM passed through an env file often arrives with literal `\n`s. */
function pem(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  return value ? value.replace(/\\n/g, '\n') : undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };
  const privateKeyPem = pem(env.API_PRIVATE_KEY_PEM);
  const publicKeyPem = pem(env.API_PUBLIC_KEY_PEM);
  if (publicKeyPem && !privateKeyPem) throw new Error('API_PUBLIC_KEY_PEM is set without API_PRIVATE_KEY_PEM');
  const trustProxy = value('API_TRUST_PROXY');
  const firebaseProjectId = value('FIREBASE_PROJECT_ID');
  if (firebaseProjectId !== undefined && !FIREBASE_PROJECT_ID.test(firebaseProjectId)) {
    throw new Error(`FIREBASE_PROJECT_ID must be a Firebase project id like my-app-1234 (got "${firebaseProjectId}")`);
  }
  const firebaseAuthEmulatorHost = value('FIREBASE_AUTH_EMULATOR_HOST');
  const allowEmulator = value('ALLOW_FIREBASE_AUTH_EMULATOR');
  if (firebaseAuthEmulatorHost !== undefined && allowEmulator !== '1' && allowEmulator !== 'true') {
    throw new Error(
      'FIREBASE_AUTH_EMULATOR_HOST is set: firebase-admin would accept unsigned Auth emulator tokens, letting anyone ' +
        'sign in as anyone. Unset it, or for tests and development only also set ALLOW_FIREBASE_AUTH_EMULATOR=1',
    );
  }
  const databaseUrl = value('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const redisUrl = value('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL');
  const firebaseWebApiKey = value('FIREBASE_WEB_API_KEY');
  const metricsToken = value('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) throw new Error('METRICS_TOKEN must be at least 16 characters');
  return {
    host: value('API_HOST') ?? '0.0.0.0',
    port: parseInteger('API_PORT', value('API_PORT') ?? '3001', 0, 65_535),
    dataDir: path.resolve(value('CONCORD_DATA_DIR') ?? './data'),
    ...(privateKeyPem && { privateKeyPem }),
    ...(publicKeyPem && { publicKeyPem }),
    sessionTtlSeconds: parseDurationSeconds('SESSION_TTL', value('SESSION_TTL') ?? '7d'),
    grantTtlSeconds: parseDurationSeconds('GRANT_TTL', value('GRANT_TTL') ?? '60s'),
    authAttemptsPerMinute: parseInteger('AUTH_RATE_LIMIT', value('AUTH_RATE_LIMIT') ?? '10', 1, 1_000_000),
    ...(trustProxy !== undefined && { trustProxy: parseTrustProxy(trustProxy) }),
    logLevel: value('LOG_LEVEL') ?? 'info',
    ...(firebaseProjectId && { firebaseProjectId }),
    ...(firebaseAuthEmulatorHost && { firebaseAuthEmulatorHost }),
    ...(databaseUrl && { databaseUrl }),
    ...(redisUrl && { redisUrl }),
    redisKeyPrefix: value('REDIS_KEY_PREFIX') ?? 'concord:',
    ...(metricsToken && { metricsToken }),
    ...(firebaseWebApiKey && { firebaseWebApiKey }),
    rateLimits: rateRulesFromEnv(env),
  };
}
