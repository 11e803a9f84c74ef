import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { ConfigError, parseEnv, parsers, redisKeyPrefixVariable, shellConfigOf, shellVariables, variable, type ShellConfig } from '@concord/service-shell';

/** Everything an SFU node is configured with, parsed once at start (the variables: SfuVariables). */
export interface SfuConfig {
  /** Identity in the room registry; unique per running node. */
  readonly nodeId: string;
  /** mediasoup workers, one per core. */
  readonly workers: number;
  /** Worker i serves WebRTC on UDP and TCP port rtcPortBase + i. */
  readonly rtcPortBase: number;
  /** Address the WebRTC sockets bind to. */
  readonly listenIp: string;
  /** Address put in ICE candidates (public IP or host name); default the listen IP. */
  readonly announcedAddress: string | undefined;
  /** Control (signaling ↔ SFU) port; 0 picks a free one. */
  readonly controlPort: number;
  /** Host signaling reaches the control port at; goes into controlUrl. */
  readonly controlHost: string;
  /** Address the control server binds to. */
  readonly controlListenIp: string;
  /** Shared with signaling; authenticates control connections. */
  readonly secret: string;
  /** Most streams (producers + consumers) before the node takes no new peers or transports; a worker's share is capacity / workers. */
  readonly capacity: number;
  /** Most peers of a room sending (or receiving) through one router before it spreads to another worker; 0: by load alone. */
  readonly roomPeersPerRouter: number;
  /** How long a disconnected peer keeps its place. */
  readonly peerGraceMs: number;
  /** Registry heartbeat period. */
  readonly heartbeatIntervalMs: number;
  /** The registry forgets the node this long after its last heartbeat. */
  readonly heartbeatTtlMs: number;
  /** Kernel buffer of each worker's WebRTC sockets, in bytes (capped by net.core.rmem_max/wmem_max). */
  readonly socketBuffers: { readonly recvBufferSize: number; readonly sendBufferSize: number };
  /** Longest a drain (SIGTERM, POST /drain) may move rooms off the node before the rest are closed. */
  readonly drainTimeoutMs: number;
  /** Peers told to rejoin elsewhere per drain step, and the pause between steps. */
  readonly drainBatch: { readonly peers: number; readonly intervalMs: number };
  /** Prefix of every key the node writes to the Redis registry; shared with signaling. */
  readonly redisKeyPrefix: string;
  /** The registry's Redis; required for a node of its own, unused when embedded. */
  readonly redisUrl: string | undefined;
  /** Logging, ops listener, metrics token, stop deadline. */
  readonly shell: ShellConfig;
}

/** Values that win over the environment; `embedded` lets a single-process launcher go without a configured secret. */
export type SfuConfigOverrides = Partial<SfuConfig> & { embedded?: boolean };

const MIN_SECRET_LENGTH = 16;
const STREAMS_PER_WORKER = 500;
/*
 * One UDP socket per worker takes the media of every transport on it: at the kernel's default
 * 212 KB a burst overflows it (docs/benchmarks.md: 4.74% loss at 20 meeting rooms, none with 4 MB).
 */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** An SFU node's environment variables (README "Configuration" is generated from them: npm run docs:config). */
export const SfuVariables = z.object({
  ...shellVariables({ opsPort: 9103 }),
  SFU_NODE_ID: variable(parsers.text, { shown: 'hostname + random', description: "the node's registry id (unique per node)" }),
  SFU_WORKERS: variable(parsers.integer(1, 64), { default: () => os.cpus().length, shown: 'CPU count', description: 'mediasoup workers' }),
  SFU_RTC_PORT_BASE: variable(parsers.integer(1024, 65_535), { default: 40_000, description: 'worker *i* serves WebRTC on UDP+TCP port base+*i*' }),
  SFU_LISTEN_IP: variable(parsers.text, { default: '127.0.0.1', description: 'media bind address (an IP)' }),
  SFU_ANNOUNCED_ADDRESS: variable(parsers.text, { shown: 'the listen IP', description: 'the address put in ICE candidates (public IP or host name); required with a wildcard listen IP' }),
  SFU_CONTROL_PORT: variable(parsers.port, { default: 4443, description: 'the control interface signaling connects to (0 picks a free port)' }),
  SFU_CONTROL_HOST: variable(parsers.text, { default: '127.0.0.1', description: 'the host signaling reaches the control port at' }),
  SFU_CONTROL_LISTEN_IP: variable(parsers.text, { shown: 'the control host', description: 'address the control server binds to' }),
  SFU_SECRET: variable(parsers.text, { secret: true, shown: '— (required; random when embedded)', description: 'shared by signaling and the SFU nodes (≥ 16 characters): authenticates control connections' }),
  SFU_CAPACITY: variable(parsers.integer(1, 1_000_000), { shown: `${STREAMS_PER_WORKER} × workers`, description: 'streams (producers + consumers of clients) before the node refuses new peers and transports (`CAPACITY`: signaling places them on another node); a worker takes its share, capacity ÷ workers, before a room spreads to another worker (docs/capacity.md)' }),
  SFU_ROOM_PEERS_PER_ROUTER: variable(parsers.integer(0, 100_000), {
    default: 0,
    description: "most peers of a room sending (or receiving) through one worker's router before the room spreads to another worker (`pipeToRouter`); 0: only when the worker passes its share of `SFU_CAPACITY`",
  }),
  SFU_PEER_GRACE_MS: variable(parsers.integer(0, 3_600_000), { default: 15_000, description: 'how long a dropped peer keeps its place' }),
  SFU_HEARTBEAT_INTERVAL_MS: variable(parsers.integer(50, 60_000), { default: 3_000, description: 'registry heartbeat period' }),
  SFU_HEARTBEAT_TTL_MS: variable(parsers.integer(100, 600_000), { default: 10_000, description: 'the registry forgets a node this long after its last heartbeat' }),
  SFU_RECV_BUFFER_SIZE: variable(parsers.integer(65_536, 256 * 1024 * 1024), {
    default: SOCKET_BUFFER_BYTES,
    description: "receive buffer of each worker's WebRTC sockets, in bytes; the kernel caps it at `net.core.rmem_max` (raise that on SFU hosts, see docs/operations.md)",
  }),
  SFU_SEND_BUFFER_SIZE: variable(parsers.integer(65_536, 256 * 1024 * 1024), {
    default: SOCKET_BUFFER_BYTES,
    description: "send buffer of each worker's WebRTC sockets, in bytes; capped at `net.core.wmem_max`",
  }),
  SFU_DRAIN_TIMEOUT_MS: variable(parsers.integer(0, 3_600_000), {
    default: 60_000,
    description: 'on SIGTERM or `POST /drain`: how long the node may spend moving its calls to other nodes before it closes what is left (added to `SHUTDOWN_TIMEOUT_MS`)',
  }),
  SFU_DRAIN_BATCH: variable(parsers.integer(1, 10_000), { default: 20, description: 'peers a drain tells to rejoin elsewhere at a time (whole rooms: a room larger than this goes alone)' }),
  SFU_DRAIN_INTERVAL_MS: variable(parsers.integer(0, 60_000), { default: 1_000, description: 'pause between two drain batches' }),
  REDIS_URL: variable(parsers.url('redis', 'rediss'), { shown: '— (required)', description: 'the room registry shared with signaling and the other nodes' }),
  REDIS_KEY_PREFIX: redisKeyPrefixVariable(),
});

export function loadSfuConfig(env: NodeJS.ProcessEnv = process.env, overrides: SfuConfigOverrides = {}): SfuConfig {
  const { embedded = false, ...values } = overrides;
  const vars = parseEnv(SfuVariables, env);
  const workers = values.workers ?? vars.SFU_WORKERS;
  const controlHost = values.controlHost ?? vars.SFU_CONTROL_HOST;
  const drainTimeoutMs = values.drainTimeoutMs ?? vars.SFU_DRAIN_TIMEOUT_MS;
  const config: SfuConfig = {
    nodeId: values.nodeId ?? vars.SFU_NODE_ID ?? `${os.hostname()}-${randomBytes(3).toString('hex')}`,
    workers,
    rtcPortBase: values.rtcPortBase ?? vars.SFU_RTC_PORT_BASE,
    listenIp: values.listenIp ?? vars.SFU_LISTEN_IP,
    announcedAddress: 'announcedAddress' in values ? values.announcedAddress : vars.SFU_ANNOUNCED_ADDRESS,
    controlPort: values.controlPort ?? vars.SFU_CONTROL_PORT,
    controlHost,
    controlListenIp: values.controlListenIp ?? vars.SFU_CONTROL_LISTEN_IP ?? controlHost,
    // Embedded mode runs signaling in the same process, so a random secret shared in memory is enough.
    secret: values.secret ?? vars.SFU_SECRET ?? (embedded ? randomBytes(24).toString('hex') : ''),
    capacity: values.capacity ?? vars.SFU_CAPACITY ?? STREAMS_PER_WORKER * workers,
    roomPeersPerRouter: values.roomPeersPerRouter ?? vars.SFU_ROOM_PEERS_PER_ROUTER,
    peerGraceMs: values.peerGraceMs ?? vars.SFU_PEER_GRACE_MS,
    heartbeatIntervalMs: values.heartbeatIntervalMs ?? vars.SFU_HEARTBEAT_INTERVAL_MS,
    heartbeatTtlMs: values.heartbeatTtlMs ?? vars.SFU_HEARTBEAT_TTL_MS,
    socketBuffers: values.socketBuffers ?? { recvBufferSize: vars.SFU_RECV_BUFFER_SIZE, sendBufferSize: vars.SFU_SEND_BUFFER_SIZE },
    drainTimeoutMs,
    drainBatch: values.drainBatch ?? { peers: vars.SFU_DRAIN_BATCH, intervalMs: vars.SFU_DRAIN_INTERVAL_MS },
    redisKeyPrefix: values.redisKeyPrefix ?? vars.REDIS_KEY_PREFIX,
    redisUrl: values.redisUrl ?? vars.REDIS_URL,
    shell: values.shell ?? withDrainTime(shellConfigOf(vars), drainTimeoutMs),
  };
  check(config);
  return config;
}

function check(config: SfuConfig): void {
  if (config.secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`SFU_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters (shared with signaling)`);
  }
  const lastPort = config.rtcPortBase + config.workers - 1;
  if (lastPort > 65535) throw new ConfigError(`SFU_RTC_PORT_BASE + SFU_WORKERS - 1 = ${lastPort} is not a port`);
  if (!isIP(config.listenIp)) throw new ConfigError(`SFU_LISTEN_IP must be an IP address, got "${config.listenIp}"`);
  // A wildcard bind cannot be put in an ICE candidate: clients would be told to send to 0.0.0.0.
  if (isWildcard(config.listenIp) && !config.announcedAddress) {
    throw new ConfigError(`SFU_ANNOUNCED_ADDRESS is required when SFU_LISTEN_IP is ${config.listenIp}`);
  }
  if (config.heartbeatTtlMs <= config.heartbeatIntervalMs) {
    throw new ConfigError('the heartbeat TTL must be longer than the heartbeat interval, or the node flickers out of the registry');
  }
}

/** The drain runs inside the stop (its 'drain' phase), so the stop's deadline makes room for it. */
const withDrainTime = (shell: ShellConfig, drainTimeoutMs: number): ShellConfig => ({ ...shell, shutdownTimeoutMs: shell.shutdownTimeoutMs + drainTimeoutMs });

const isWildcard = (ip: string): boolean => ip === '0.0.0.0' || ip === '::';
