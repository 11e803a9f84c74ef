import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../api/src/db/testing';

/*
 * Test support: a service started as a real process through tsx (its own process group), its
 * output kept line by line, and a throwaway Redis the test can stop and start again.
 */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
/** Settings a developer's shell may carry that must not leak into the service under test. */
const OWN_SETTINGS = /^(SFU_|SIGNALING_|API_|REDIS_|CONCORD_|CORS_|SESSION_TTL|GRANT_TTL|AUTH_RATE_LIMIT|LOG_|OPS_|METRICS_TOKEN|SHUTDOWN_|DATABASE_URL|PORT|HOST)/;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServiceProcess {
  readonly exited: Promise<ExitStatus>;
  exit: ExitStatus | undefined;
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';

  /** `script` relative to the repository root. */
  constructor(script: string, env: Record<string, string>) {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !OWN_SETTINGS.test(key)));
    this.child = spawn(TSX, [script], { cwd: ROOT, env: { ...inherited, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /** Every complete line written to stdout so far. */
  lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  output(): string {
    return `${this.stdout}${this.stderr ? `\n--- stderr ---\n${this.stderr}` : ''}`;
  }

  /** The first logged value of `field` (a JSON log line carrying it), once it appears. */
  async logged(field: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines()) {
        const value = (JSON.parse(line) as Record<string, unknown>)[field];
        if (typeof value === 'string') return value;
      }
      if (this.exit) throw new Error(`exited (${JSON.stringify(this.exit)}) before logging ${field}:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`no ${field} logged within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(100);
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Ends the whole group (tsx, node and any workers) if still there. */
  async kill(): Promise<void> {
    if (this.child.pid !== undefined && !this.exit) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // ESRCH: gone already.
      }
      await this.exited;
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/** The status of GET url, or 0 when nothing answers. */
export const statusOf = (url: string, init?: RequestInit): Promise<number> =>
  fetch(url, init).then(
    (response) => response.status,
    () => 0,
  );

/** A Redis of the test's own on a free loopback port, without persistence; stop() and start() it at will. */
export class ThrowawayRedis {
  private process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<ThrowawayRedis> {
    const redis = new ThrowawayRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.process = child;
    const net = await import('node:net');
    await waitFor(`redis-server answers on ${this.port}`, () =>
      new Promise((resolve) => {
        const socket = net.connect(this.port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    );
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
