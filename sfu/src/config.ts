import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';

/** Everything an SFU node is configured with, parsed once at start. */
export interface SfuConfig {
  /** Identity in the room registry; unique per running node. SFU_NODE_ID, default hostname + random suffix. */
  readonly nodeId: string;
  /** mediasoup workers, one per core. SFU_WORKERS, default the number of CPUs. */
  readonly workers: number;
  /** Worker i serves WebRTC on UDP and TCP port rtcPortBase + i. SFU_RTC_PORT_BASE, default 40000. */
  readonly rtcPortBase: number;
  /** Address the WebRTC sockets bind to. SFU_LISTEN_IP, default 127.0.0.1. */
  readonly listenIp: string;
  /** Address put in ICE candidates (public IP or host name). SFU_ANNOUNCED_ADDRESS, default the listen IP. */
  readonly announcedAddress: string | undefined;
  /** Control (signaling ↔ SFU) port; 0 picks a free one. SFU_CONTROL_PORT, default 4443. */
  readonly controlPort: number;
  /** Host signaling reaches the control port at; goes into controlUrl. SFU_CONTROL_HOST, default 127.0.0.1. */
  readonly controlHost: string;
  /** Address the control server binds to. SFU_CONTROL_LISTEN_IP, default the control host. */
  readonly controlListenIp: string;
  /** Shared with signaling; authenticates control connections. SFU_SECRET, at least 16 characters. */
  readonly secret: string;
  /** Most streams (producers + consumers) before the node takes no new rooms. SFU_CAPACITY, default 500 per worker. */
  readonly capacity: number;
  /** How long a disconnected peer keeps its place. SFU_PEER_GRACE_MS, default 15000. */
  readonly peerGraceMs: number;
  /** Registry heartbeat period. SFU_HEARTBEAT_INTERVAL_MS, default 3000. */
  readonly heartbeatIntervalMs: number;
  /** The registry forgets the node this long after its last heartbeat. SFU_HEARTBEAT_TTL_MS, default 10000. */
  readonly heartbeatTtlMs: number;
  /** Prefix of every key the node writes to the Redis registry; shared with signaling. REDIS_KEY_PREFIX, default concord:. */
  readonly redisKeyPrefix: string;
  /** pino level. LOG_LEVEL, default info. */
  readonly logLevel: string;
}

/** Values that win over the environment; `embedded` lets a single-process launcher go without a configured secret. */
export type SfuConfigOverrides = Partial<SfuConfig> & { embedded?: boolean };

const MIN_SECRET_LENGTH = 16;
const STREAMS_PER_WORKER = 500;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class SfuConfigError extends Error {
  override readonly name = 'SfuConfigError';
}

export function loadSfuConfig(env: NodeJS.ProcessEnv = process.env, overrides: SfuConfigOverrides = {}): SfuConfig {
  const { embedded = false, ...values } = overrides;
  const workers = values.workers ?? integer(env, 'SFU_WORKERS', os.cpus().length, 1, 64);
  const rtcPortBase = values.rtcPortBase ?? integer(env, 'SFU_RTC_PORT_BASE', 40000, 1024, 65535);
  const listenIp = values.listenIp ?? text(env, 'SFU_LISTEN_IP') ?? '127.0.0.1';
  const controlHost = values.controlHost ?? text(env, 'SFU_CONTROL_HOST') ?? '127.0.0.1';
  const config: SfuConfig = {
    nodeId: values.nodeId ?? text(env, 'SFU_NODE_ID') ?? `${os.hostname()}-${randomBytes(3).toString('hex')}`,
    workers,
    rtcPortBase,
    listenIp,
    announcedAddress: 'announcedAddress' in values ? values.announcedAddress : text(env, 'SFU_ANNOUNCED_ADDRESS'),
    controlPort: values.controlPort ?? integer(env, 'SFU_CONTROL_PORT', 4443, 0, 65535),
    controlHost,
    controlListenIp: values.controlListenIp ?? text(env, 'SFU_CONTROL_LISTEN_IP') ?? controlHost,
    // Embedded mode runs signaling in the same process, so a random secret shared in memory is enough.
    secret: values.secret ?? text(env, 'SFU_SECRET') ?? (embedded ? randomBytes(24).toString('hex') : ''),
    capacity: values.capacity ?? integer(env, 'SFU_CAPACITY', STREAMS_PER_WORKER * workers, 1, 1_000_000),
    peerGraceMs: values.peerGraceMs ?? integer(env, 'SFU_PEER_GRACE_MS', 15_000, 0, 3_600_000),
    heartbeatIntervalMs: values.heartbeatIntervalMs ?? integer(env, 'SFU_HEARTBEAT_INTERVAL_MS', 3_000, 50, 60_000),
    heartbeatTtlMs: values.heartbeatTtlMs ?? integer(env, 'SFU_HEARTBEAT_TTL_MS', 10_000, 100, 600_000),
    redisKeyPrefix: values.redisKeyPrefix ?? text(env, 'REDIS_KEY_PREFIX') ?? 'concord:',
    logLevel: values.logLevel ?? text(env, 'LOG_LEVEL') ?? 'info',
  };
  check(config);
  return config;
}

function check(config: SfuConfig): void {
  if (config.secret.length < MIN_SECRET_LENGTH) {
    throw new SfuConfigError(`SFU_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters (shared with signaling)`);
  }
  const lastPort = config.rtcPortBase + config.workers - 1;
  if (lastPort > 65535) throw new SfuConfigError(`SFU_RTC_PORT_BASE + SFU_WORKERS - 1 = ${lastPort} is not a port`);
  if (!isIP(config.listenIp)) throw new SfuConfigError(`SFU_LISTEN_IP must be an IP address, got "${config.listenIp}"`);
  // A wildcard bind cannot be put in an ICE candidate: clients would be told to send to 0.0.0.0.
  if (isWildcard(config.listenIp) && !config.announcedAddress) {
    throw new SfuConfigError(`SFU_ANNOUNCED_ADDRESS is required when SFU_LISTEN_IP is ${config.listenIp}`);
  }
  if (config.heartbeatTtlMs <= config.heartbeatIntervalMs) {
    throw new SfuConfigError('the heartbeat TTL must be longer than the heartbeat interval, or the node flickers out of the registry');
  }
  if (!LOG_LEVELS.includes(config.logLevel)) throw new SfuConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
}

const isWildcard = (ip: string): boolean => ip === '0.0.0.0' || ip === '::';

function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SfuConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
