import path from 'node:path';
import { z } from 'zod';
import { ConfigError, parseEnv, parsers, redisKeyPrefixVariable, shellConfigOf, shellVariables, variable, type ShellConfig } from '@concord/service-shell';
import { DEFAULT_SERVER_CAPS, type ServerCaps } from './guild/server-caps';
import { DEFAULT_RATE_LIMITS, type RateLimitRules, type RateRule } from './rate-limits';
import type { TurnConfig } from './turn';

/** Everything the API reads from the environment, parsed and validated once at start (the variables: ApiVariables). */
export interface ApiConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Absolute. Holds the signing key and the embedded database. */
  dataDir: string;
  /** PKCS#8, P-256. Unset: a key is generated once and kept in the data dir. */
  privateKeyPem?: string;
  /** SPKI. Optional even with a private key: it is derived from it. */
  publicKeyPem?: string;
  sessionTtlSeconds: number;
  grantTtlSeconds: number;
  /** Set: voice grants carry TURN servers with time-limited credentials (api/src/turn.ts). */
  turn?: TurnConfig;
  /** Sign-in/sign-up attempts per minute, per IP and per user name. */
  authAttemptsPerMinute: number;
  /** Express's `trust proxy` setting; unset trusts none. */
  trustProxy?: string | number | boolean;
  /** Set: Firebase ID tokens of this project are accepted beside local sessions. */
  firebaseProjectId?: string;
  /** Tests and development only (see the variable's description). */
  firebaseAuthEmulatorHost?: string;
  /** Unset: embedded PostgreSQL (PGlite) in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** Unset: the cache (and real-time publishing) stay in this process. */
  redisUrl?: string;
  redisKeyPrefix: string;
  /** The Firebase web API key (public) the web client's SDK needs, served with the project id at GET /api/config. */
  firebaseWebApiKey?: string;
  /** The abuse limits set in the environment; the others keep their defaults. */
  rateLimits: Partial<RateLimitRules>;
  /** The most servers one user may be a member of (owned ones included), and own. */
  serverCaps: ServerCaps;
  /** Two-factor sign-in: the TOTP secrets' encryption key and WebAuthn's relying party. */
  twoFactor: TwoFactorConfig;
  /** Logging, ops listener, metrics token, stop deadline. */
  shell: ShellConfig;
}

export interface TwoFactorConfig {
  /** 32 bytes. Unset: derived from the signing key (so rotating that key needs re-enrolment). */
  secretKey?: Buffer;
  /** WebAuthn relying party id: the site's host name (passkeys are bound to it). */
  rpId: string;
  /** Origins passkeys are accepted from; unset: any origin whose host is the RP id or under it. */
  origins?: string[];
}

/** 32 bytes, base64 (or base64url). */
function secretKey(text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error('must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
  return key;
}

/** A host name, as WebAuthn's RP id: no scheme, port or path. */
function rpId(text: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(text)) throw new Error('must be a host name like chat.example.com or localhost');
  return text.toLowerCase();
}

/** Comma-separated origins like https://chat.example.com. */
function origins(text: string): string[] {
  return text.split(',').map((item) => {
    const url = new URL(item.trim());
    if (url.origin !== item.trim().replace(/\/$/, '')) throw new Error(`${item.trim()} is not an origin (scheme://host[:port])`);
    return url.origin;
  });
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, or a number with s/m/h/d. */
function durationSeconds(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text);
  const seconds = match ? Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? 1) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new Error('must be a duration like 60, 60s, 15m, 12h or 7d');
  return seconds;
}

const WINDOW_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };

/** `10/10s`, `30/1m`, `100/h`: at most that many per window. */
export function rateRule(text: string): RateRule {
  const match = /^(\d+)\s*\/\s*(\d*)\s*([smh])$/.exec(text);
  const limit = Number(match?.[1]);
  const windowMs = Number(match?.[2] || 1) * (WINDOW_UNITS_MS[match?.[3] ?? ''] ?? NaN);
  if (!match || !Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(windowMs) || windowMs < 1 || windowMs > 86_400_000) {
    throw new Error('must be a count per window like 10/10s, 30/1m or 100/h');
  }
  return { limit, windowMs };
}

const shownRule = ({ limit, windowMs }: RateRule): string =>
  `\`${limit}/${windowMs % 60_000 === 0 ? `${windowMs / 60_000}m` : `${windowMs / 1_000}s`}\``;

/** An abuse limit as `count/window`, shown with its default from DEFAULT_RATE_LIMITS. */
const rateLimit = (rule: keyof RateLimitRules, description: string) => variable(rateRule, { shown: shownRule(DEFAULT_RATE_LIMITS[rule]), description });

function trustProxy(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^\d+$/.test(text)) return Number(text);
  return text;
}

/** Firebase's rule: 6..30 lower-case letters, digits and hyphens, starting with a letter. */
function firebaseProjectId(text: string): string {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(text)) throw new Error('must be a Firebase project id like my-app-1234');
  return text;
}

/** Comma-separated turn:/turns: URLs, as browsers take them in RTCIceServer.urls. */
function turnUrls(text: string): string[] {
  const urls = parsers.list(text);
  for (const url of urls) if (!/^turns?:[^\s/?]+(\?transport=(udp|tcp))?$/.test(url)) throw new Error(`${url} is not a TURN URL like turn:turn.example.com:3478?transport=udp or turns:turn.example.com:443?transport=tcp`);
  if (urls.length === 0 || urls.length > 8) throw new Error('must list 1 to 8 TURN URLs');
  return urls;
}

/** A PEM passed through an env file often arrives with literal `\n`s. */
const pem = (text: string): string => text.replace(/\\n/g, '\n');

/** The API's environment variables (README "Configuration" is generated from them: npm run docs:config). */
export const ApiVariables = z.object({
  ...shellVariables({ opsPort: 9101 }),
  API_PORT: variable(parsers.port, { default: 3001, description: 'port the API listens on (0 picks a free one)' }),
  API_HOST: variable(parsers.text, { default: '0.0.0.0', description: 'address the API listens on' }),
  CONCORD_DATA_DIR: variable(parsers.text, { default: './data', description: 'the signing key, and the embedded database (`pglite/`) when there is no `DATABASE_URL`' }),
  DATABASE_URL: variable(parsers.url('postgres', 'postgresql'), { shown: 'unset: embedded PostgreSQL (PGlite)', description: 'PostgreSQL (`postgres://…`); migrations run at start' }),
  REDIS_URL: variable(parsers.url('redis', 'rediss'), {
    shown: 'unset: in this process',
    description: "the API's cache, rate limits and real-time publishing (shared by every API instance)",
  }),
  REDIS_KEY_PREFIX: redisKeyPrefixVariable(),
  API_PRIVATE_KEY_PEM: variable(pem, { secret: true, shown: 'generated into the data dir', description: 'ES256 (P-256) PKCS#8 key signing sessions and grants' }),
  API_PUBLIC_KEY_PEM: variable(pem, { secret: true, shown: 'derived from the private key', description: 'its SPKI public half, checked against it' }),
  SESSION_TTL: variable(durationSeconds, { default: 7 * 86_400, shown: '`7d`', description: 'session lifetime (seconds, or a number with s, m, h or d)' }),
  GRANT_TTL: variable(durationSeconds, { default: 60, shown: '`60s`', description: 'voice grant lifetime' }),
  TURN_URLS: variable(turnUrls, {
    shown: 'unset: no TURN (clients behind UDP-blocking firewalls cannot call)',
    description: 'comma-separated TURN URLs handed to clients with each voice grant, e.g. `turn:turn.example.com:3478?transport=udp,turn:turn.example.com:3478?transport=tcp,turns:turn.example.com:443?transport=tcp` (docs/deploy.md, TURN)',
  }),
  TURN_SECRET: variable(parsers.secret(16), {
    secret: true,
    description: "coturn's `static-auth-secret` (with `use-auth-secret`): signs the time-limited TURN credentials; needed with `TURN_URLS`, never sent to clients",
  }),
  TURN_TTL: variable(durationSeconds, { default: 12 * 3600, shown: '`12h`', description: 'how long a TURN credential may open allocations (an allocation made before it expires lives on while refreshed)' }),
  AUTH_RATE_LIMIT: variable(parsers.integer(1, 1_000_000), { default: 10, description: 'sign-in/sign-up attempts per minute per IP and per user name' }),
  MESSAGE_RATE_LIMIT: rateLimit('messageUser', 'messages per user (`count/window`, window in s, m or h)'),
  MESSAGE_IP_RATE_LIMIT: rateLimit('messageIp', 'messages per IP'),
  REACTION_RATE_LIMIT: rateLimit('reactionUser', 'reactions added per user'),
  INVITE_RATE_LIMIT: rateLimit('inviteUser', 'invites created per user'),
  INVITE_IP_RATE_LIMIT: rateLimit('inviteIp', 'invites created per IP'),
  JOIN_RATE_LIMIT: rateLimit('joinUser', 'servers joined per user'),
  JOIN_IP_RATE_LIMIT: rateLimit('joinIp', 'servers joined per IP'),
  DUPLICATE_MESSAGE_LIMIT: rateLimit('duplicateMessage', 'copies of the same text per user and channel'),
  SERVER_CREATE_RATE_LIMIT: rateLimit('serverCreateUser', 'servers created per user'),
  SERVER_CREATE_IP_RATE_LIMIT: rateLimit('serverCreateIp', 'servers created per IP'),
  SIGN_IN_FAILURE_LIMIT: rateLimit('signInFailurePair', 'wrong passwords per user name and IP; then that IP waits (others are not affected)'),
  ACCOUNT_SIGN_IN_FAILURE_LIMIT: rateLimit('signInFailureAccount', 'wrong passwords per account from all IPs; then only IPs it signed in from before may try'),
  TWO_FACTOR_FAILURE_LIMIT: rateLimit('secondFactorFailure', 'wrong second-factor codes (TOTP, recovery, passkey) per account; then every code is refused until the window ends'),
  TWO_FACTOR_KEY: variable(secretKey, {
    secret: true,
    shown: 'derived from the signing key',
    description: 'encrypts TOTP secrets at rest (32 bytes, base64); changing it (or, unset, the signing key) makes enrolled authenticator apps unusable',
  }),
  WEBAUTHN_RP_ID: variable(rpId, { default: 'localhost', description: "passkeys' relying party id: the host name users open the web client at (passkeys are bound to it)" }),
  WEBAUTHN_ORIGINS: variable(origins, {
    shown: 'unset: the RP id and its subdomains',
    description: 'comma-separated origins (`https://chat.example.com`) passkeys are accepted from',
  }),
  SERVERS_PER_USER: variable(parsers.integer(1, 100_000), { default: DEFAULT_SERVER_CAPS.joined, description: 'servers one user may be a member of (owned ones included)' }),
  OWNED_SERVERS_PER_USER: variable(parsers.integer(1, 100_000), { default: DEFAULT_SERVER_CAPS.owned, description: 'servers one user may own' }),
  API_TRUST_PROXY: variable(trustProxy, { shown: 'unset: trust none', description: 'Express `trust proxy` (set behind a reverse proxy, e.g. `loopback` or a hop count, or every client shares its rate limit)' }),
  FIREBASE_PROJECT_ID: variable(firebaseProjectId, {
    shown: 'unset: local sign-in only',
    description: 'also accept Firebase ID tokens of this project (verified against Google\'s keys); a Firebase account becomes a Concord user on its first request. Local sign-in keeps working. Needs the PostgreSQL user store',
  }),
  FIREBASE_WEB_API_KEY: variable(parsers.text, { description: "the project's (public) web API key; with `FIREBASE_PROJECT_ID`, `GET /api/config` offers Firebase sign-in to the web client" }),
  FIREBASE_AUTH_EMULATOR_HOST: variable(parsers.text, {
    description:
      '**tests and development only**: the Firebase Auth emulator (`host:port`), whose tokens are unsigned — with it anyone can sign in as anyone. The API refuses to start with it unless `ALLOW_FIREBASE_AUTH_EMULATOR=1` is set too. Never set either in production',
  }),
  ALLOW_FIREBASE_AUTH_EMULATOR: variable(parsers.text, { description: '`1` (or `true`): the second key to `FIREBASE_AUTH_EMULATOR_HOST`' }),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const vars = parseEnv(ApiVariables, env);
  if (vars.API_PUBLIC_KEY_PEM && !vars.API_PRIVATE_KEY_PEM) throw new ConfigError('API_PUBLIC_KEY_PEM is set without API_PRIVATE_KEY_PEM');
  if (vars.FIREBASE_AUTH_EMULATOR_HOST !== undefined && !['1', 'true'].includes(vars.ALLOW_FIREBASE_AUTH_EMULATOR ?? '')) {
    throw new ConfigError(
      'FIREBASE_AUTH_EMULATOR_HOST is set: firebase-admin would accept unsigned Auth emulator tokens, letting anyone ' +
        'sign in as anyone. Unset it, or for tests and development only also set ALLOW_FIREBASE_AUTH_EMULATOR=1',
    );
  }
  if ((vars.TURN_URLS === undefined) !== (vars.TURN_SECRET === undefined)) throw new ConfigError('TURN_URLS and TURN_SECRET go together: set both (or neither)');
  const limits: [keyof RateLimitRules, RateRule | undefined][] = [
    ['messageUser', vars.MESSAGE_RATE_LIMIT],
    ['messageIp', vars.MESSAGE_IP_RATE_LIMIT],
    ['reactionUser', vars.REACTION_RATE_LIMIT],
    ['inviteUser', vars.INVITE_RATE_LIMIT],
    ['inviteIp', vars.INVITE_IP_RATE_LIMIT],
    ['joinUser', vars.JOIN_RATE_LIMIT],
    ['joinIp', vars.JOIN_IP_RATE_LIMIT],
    ['duplicateMessage', vars.DUPLICATE_MESSAGE_LIMIT],
    ['serverCreateUser', vars.SERVER_CREATE_RATE_LIMIT],
    ['serverCreateIp', vars.SERVER_CREATE_IP_RATE_LIMIT],
    ['signInFailurePair', vars.SIGN_IN_FAILURE_LIMIT],
    ['signInFailureAccount', vars.ACCOUNT_SIGN_IN_FAILURE_LIMIT],
    ['secondFactorFailure', vars.TWO_FACTOR_FAILURE_LIMIT],
  ];
  return {
    host: vars.API_HOST,
    port: vars.API_PORT,
    dataDir: path.resolve(vars.CONCORD_DATA_DIR),
    ...(vars.API_PRIVATE_KEY_PEM && { privateKeyPem: vars.API_PRIVATE_KEY_PEM }),
    ...(vars.API_PUBLIC_KEY_PEM && { publicKeyPem: vars.API_PUBLIC_KEY_PEM }),
    sessionTtlSeconds: vars.SESSION_TTL,
    grantTtlSeconds: vars.GRANT_TTL,
    ...(vars.TURN_URLS && vars.TURN_SECRET && { turn: { urls: vars.TURN_URLS, secret: vars.TURN_SECRET, ttlSeconds: vars.TURN_TTL } }),
    authAttemptsPerMinute: vars.AUTH_RATE_LIMIT,
    ...(vars.API_TRUST_PROXY !== undefined && { trustProxy: vars.API_TRUST_PROXY }),
    ...(vars.FIREBASE_PROJECT_ID && { firebaseProjectId: vars.FIREBASE_PROJECT_ID }),
    ...(vars.FIREBASE_AUTH_EMULATOR_HOST && { firebaseAuthEmulatorHost: vars.FIREBASE_AUTH_EMULATOR_HOST }),
    ...(vars.DATABASE_URL && { databaseUrl: vars.DATABASE_URL }),
    ...(vars.REDIS_URL && { redisUrl: vars.REDIS_URL }),
    redisKeyPrefix: vars.REDIS_KEY_PREFIX,
    ...(vars.FIREBASE_WEB_API_KEY && { firebaseWebApiKey: vars.FIREBASE_WEB_API_KEY }),
    rateLimits: Object.fromEntries(limits.filter(([, rule]) => rule !== undefined)),
    serverCaps: { joined: vars.SERVERS_PER_USER, owned: vars.OWNED_SERVERS_PER_USER },
    twoFactor: {
      ...(vars.TWO_FACTOR_KEY && { secretKey: vars.TWO_FACTOR_KEY }),
      rpId: vars.WEBAUTHN_RP_ID,
      ...(vars.WEBAUTHN_ORIGINS && { origins: vars.WEBAUTHN_ORIGINS }),
    },
    shell: shellConfigOf(vars),
  };
}
