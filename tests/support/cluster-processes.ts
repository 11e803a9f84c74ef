import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, Result, ServerToClientEvents, VoiceEvent, VoiceEventName, VoiceRequest, VoiceRequestName, VoiceResponse } from '@concord/protocol';
import { eventually } from '../../sfu/src/test-support';

/* The processes of a cluster under test and a user's voice client to it (tests/cluster.test.ts, tests/monitoring.test.ts). */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const REQUEST_TIMEOUT_MS = 5_000;
/** Kept per process, from the end: enough to see what went wrong without flooding the report. */
const MAX_OUTPUT_CHARS = 64 * 1024;

/** Settings a developer's shell may carry that must not leak into the processes under test. */
const OWN_SETTINGS = /^(SFU_|SIGNALING_|API_|REDIS_|CONCORD_|CORS_|SESSION_TTL|GRANT_TTL|AUTH_RATE_LIMIT|LOG_LEVEL)/;

/** A server started through tsx as the leader of its own process group, its output kept for failure reports. */
export class ServerProcess {
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;
  private output = '';

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
  ) {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !OWN_SETTINGS.test(key)));
    this.child = spawn(TSX, [script], { cwd: ROOT, env: { ...inherited, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.once('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}\n`)));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** A clean stop: tsx relays SIGTERM to the server, which shuts down and exits. */
  terminate(): void {
    this.child.kill('SIGTERM');
  }

  /**
   * A crash: SIGKILL to the whole group. tsx runs the server in a child process, so killing tsx
   * alone would leave the server running; the group also holds the server's mediasoup workers.
   */
  crash(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already.
    }
  }

  /** Resolves once the process has exited; fails after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<void> {
    await eventually(() => !this.running, timeoutMs).catch(() => {
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms`);
    });
  }

  report(): string {
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : 'running';
    return `\n===== ${this.name}: ${status} =====\n${this.output || '(no output)\n'}`;
  }
}

export interface User {
  id: string;
  name: string;
  token: string;
}

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A user's socket to one signaling process, recording every event it receives. */
export class VoiceClient {
  readonly socket: ClientSocket;
  private readonly events: { event: string; data: unknown }[] = [];

  constructor(
    readonly user: User,
    readonly signalingUrl: string,
  ) {
    this.socket = io(signalingUrl, { auth: { token: user.token }, transports: ['websocket'], reconnection: false, timeout: REQUEST_TIMEOUT_MS });
    this.socket.onAny((event: string, data: unknown) => this.events.push({ event, data }));
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', (error) => reject(new Error(`${this.user.name} could not connect to ${this.signalingUrl}: ${error.message}`)));
    });
  }

  /** The raw result of a request, success or typed error. */
  attempt<N extends VoiceRequestName>(name: N, payload: VoiceRequest<N>): Promise<Result<VoiceResponse<N>>> {
    // socket.io cannot narrow its event map through the generic N; the protocol schemas hold the types.
    const timed = this.socket.timeout(REQUEST_TIMEOUT_MS) as unknown as { emitWithAck(event: string, payload: unknown): Promise<Result<VoiceResponse<N>>> };
    return timed.emitWithAck(name, payload);
  }

  /** The data of a successful request; fails the test with the error otherwise. */
  async request<N extends VoiceRequestName>(name: N, payload: VoiceRequest<N>): Promise<VoiceResponse<N>> {
    const result = await this.attempt(name, payload);
    if (!result.ok) throw new Error(`${this.user.name}: ${name} failed: ${result.error.code} ${result.error.message}`);
    return result.data;
  }

  received<E extends VoiceEventName>(event: E): VoiceEvent<E>[] {
    return this.events.filter((entry) => entry.event === event).map((entry) => entry.data as VoiceEvent<E>);
  }

  /** The first matching event, past or future. */
  async waitFor<E extends VoiceEventName>(event: E, matches: (data: VoiceEvent<E>) => boolean, timeoutMs = 5_000): Promise<VoiceEvent<E>> {
    let found: VoiceEvent<E> | undefined;
    await eventually(() => {
      found = this.received(event).find(matches);
      return found !== undefined;
    }, timeoutMs).catch(() => {
      throw new Error(`${this.user.name} received no matching ${event} within ${timeoutMs} ms`);
    });
    return found as VoiceEvent<E>;
  }

  close(): void {
    this.socket.close();
  }
}

/** Removes every key a test run wrote under its own prefix. */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
