import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, parseEnv, parsers, redisKeyPrefixVariable, shellConfigOf, shellVariables, variable, type ShellConfig } from '@concord/service-shell';

/** Signaling configuration, parsed once at start (the variables: SignalingVariables). */
export interface SignalingConfig {
  /** Unique per process: names this instance to SFU nodes and in logs. */
  id: string;
  port: number;
  host: string;
  /** Where the API publishes its public keys; not needed when `jwks` is given in-process. */
  apiJwksUrl?: string;
  /** The API's base URL, asked for a connecting user's servers in a cluster; default: API_JWKS_URL's origin. */
  apiUrl?: string;
  /** Shared with SFU nodes; authenticates the control connection. */
  sfuSecret: string;
  redisUrl?: string;
  /** Prefix of every registry key in Redis; the SFU nodes must use the same. */
  redisKeyPrefix: string;
  /** Every call to an SFU node fails with TIMEOUT after this long. */
  sfuRequestTimeoutMs: number;
  /** Requests one socket may make: a burst, then a sustained rate per second. */
  rateBurst: number;
  ratePerSecond: number;
  /** Largest request payload accepted, in bytes of JSON. */
  maxPayloadBytes: number;
  /** Sockets one user may hold at once (every signaling process together when they share Redis); 0: no cap. */
  maxSocketsPerUser: number;
  /** Allowed browser origins for cross-origin sockets (same-origin always works). */
  corsOrigins: string[];
  /** Logging, ops listener, metrics token, stop deadline. */
  shell: ShellConfig;
}

const MIN_SECRET_LENGTH = 16;

/** Signaling's environment variables (README "Configuration" is generated from them: npm run docs:config). */
export const SignalingVariables = z.object({
  ...shellVariables({ opsPort: 9102 }),
  SIGNALING_ID: variable(parsers.text, { shown: 'signaling-hostname-random', description: "this process's id towards SFU nodes and in logs (unique per process)" }),
  SIGNALING_PORT: variable(parsers.port, { default: 3002, description: 'port signaling (socket.io) listens on' }),
  SIGNALING_HOST: variable(parsers.text, { default: '0.0.0.0', description: 'address signaling listens on' }),
  API_JWKS_URL: variable(parsers.url('http', 'https'), { shown: '— (required)', description: "where the API's public keys are, e.g. `http://api:3001/api/.well-known/jwks.json`" }),
  API_URL: variable(parsers.url('http', 'https'), {
    shown: "API_JWKS_URL's origin",
    description: "the API's base URL, e.g. `http://api:3001`: asked (as the user) for the servers of a connecting user, whose presence goes to them",
  }),
  SFU_SECRET: variable(parsers.text, { secret: true, shown: '— (required)', description: 'shared by signaling and the SFU nodes (≥ 16 characters): authenticates control connections' }),
  REDIS_URL: variable(parsers.url('redis', 'rediss'), { shown: '— (required)', description: 'the room registry, presence and real-time fan-out shared with the other services' }),
  REDIS_KEY_PREFIX: redisKeyPrefixVariable(),
  SFU_REQUEST_TIMEOUT_MS: variable(parsers.integer(1, 600_000), { default: 5_000, description: 'every control call to an SFU node times out after this' }),
  SIGNALING_RATE_BURST: variable(parsers.integer(1, 1_000_000), { default: 60, description: 'requests one socket may make at once' }),
  SIGNALING_RATE_PER_SECOND: variable(parsers.integer(1, 1_000_000), { default: 30, description: 'requests one socket may make per second, sustained' }),
  SIGNALING_MAX_PAYLOAD_BYTES: variable(parsers.integer(256, 16 * 1024 * 1024), { default: 16 * 1024, description: 'largest request, in bytes of JSON' }),
  SIGNALING_MAX_SOCKETS_PER_USER: variable(parsers.integer(0, 1_000_000), { default: 10, description: 'sockets one user may hold at once across all signaling processes (0: no cap)' }),
  CORS_ORIGINS: variable(parsers.list, { default: [], shown: 'none', description: 'extra browser origins allowed to connect (comma-separated); the same origin always may' }),
});

export function loadSignalingConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<SignalingConfig> = {}): SignalingConfig {
  const vars = parseEnv(SignalingVariables, env);
  // The API publishes its keys itself, so their origin is the API's unless told otherwise.
  const apiUrl = vars.API_URL ?? (vars.API_JWKS_URL && new URL(vars.API_JWKS_URL).origin);
  const config: SignalingConfig = {
    id: vars.SIGNALING_ID ?? `signaling-${hostname()}-${randomUUID().slice(0, 8)}`,
    port: vars.SIGNALING_PORT,
    host: vars.SIGNALING_HOST,
    ...(vars.API_JWKS_URL && { apiJwksUrl: vars.API_JWKS_URL }),
    ...(apiUrl && { apiUrl }),
    sfuSecret: vars.SFU_SECRET ?? '',
    ...(vars.REDIS_URL && { redisUrl: vars.REDIS_URL }),
    redisKeyPrefix: vars.REDIS_KEY_PREFIX,
    sfuRequestTimeoutMs: vars.SFU_REQUEST_TIMEOUT_MS,
    rateBurst: vars.SIGNALING_RATE_BURST,
    ratePerSecond: vars.SIGNALING_RATE_PER_SECOND,
    maxPayloadBytes: vars.SIGNALING_MAX_PAYLOAD_BYTES,
    maxSocketsPerUser: vars.SIGNALING_MAX_SOCKETS_PER_USER,
    corsOrigins: vars.CORS_ORIGINS,
    shell: shellConfigOf(vars),
    ...overrides,
  };
  if (config.sfuSecret.length < MIN_SECRET_LENGTH) throw new ConfigError(`SFU_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters (shared with the SFU nodes)`);
  return config;
}
