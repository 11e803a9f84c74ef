import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** Signaling configuration, parsed once at start (README "Configuration"). */
export interface SignalingConfig {
  /** Unique per process: names this instance to SFU nodes and in logs. */
  id: string;
  port: number;
  host: string;
  /** Where the API publishes its public keys; not needed when `jwks` is given in-process. */
  apiJwksUrl?: string;
  /** Shared with SFU nodes; authenticates the control connection. */
  sfuSecret: string;
  redisUrl?: string;
  /** Prefix of every registry key in Redis; the SFU nodes must use the same. REDIS_KEY_PREFIX, default `concord:`. */
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
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export function loadSignalingConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<SignalingConfig> = {}): SignalingConfig {
  const config: SignalingConfig = {
    id: env.SIGNALING_ID ?? `signaling-${hostname()}-${randomUUID().slice(0, 8)}`,
    port: intFrom(env, 'SIGNALING_PORT', 3002),
    host: env.SIGNALING_HOST ?? '0.0.0.0',
    apiJwksUrl: env.API_JWKS_URL,
    sfuSecret: env.SFU_SECRET ?? '',
    redisUrl: env.REDIS_URL || undefined,
    redisKeyPrefix: env.REDIS_KEY_PREFIX?.trim() || 'concord:',
    sfuRequestTimeoutMs: intFrom(env, 'SFU_REQUEST_TIMEOUT_MS', 5000),
    rateBurst: intFrom(env, 'SIGNALING_RATE_BURST', 60),
    ratePerSecond: intFrom(env, 'SIGNALING_RATE_PER_SECOND', 30),
    maxPayloadBytes: intFrom(env, 'SIGNALING_MAX_PAYLOAD_BYTES', 16 * 1024),
    maxSocketsPerUser: intFrom(env, 'SIGNALING_MAX_SOCKETS_PER_USER', 10),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    ...overrides,
  };
  if (config.sfuSecret.length < 16) throw new Error('SFU_SECRET must be set to at least 16 characters (shared with the SFU nodes)');
  return config;
}
