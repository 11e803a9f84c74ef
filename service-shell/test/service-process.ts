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

  /** Every stdout line parsed as JSON (throws on a line that is not). */
  entries(): Record<string, unknown>[] {
    return this.lines().map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
  }

  /** The first logged entry `matches`, once it appears. */
  async logged(what: string, matches: (entry: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries().find(matches);
      if (found) return found;
      if (this.exit) throw new Error(`exited (${JSON.stringify(this.exit)}) before logging ${what}:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`${what} not logged within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(100);
    }
  }

  /** The URL a line whose message starts with `prefix` logs as `url.full` (a listener's address). */
  async loggedUrl(prefix: string, timeoutMs?: number): Promise<string> {
    const entry = await this.logged(`"${prefix}…"`, (e) => String(e.message).startsWith(prefix) && typeof e['url.full'] === 'string', timeoutMs);
    return entry['url.full'] as string;
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

const ECS_FIELDS = ['@timestamp', 'log.level', 'message', 'service.name', 'service.node.name', 'ecs.version'];

/** Every line a service wrote is one JSON object with the ECS fields. */
export function expectEcsLines(fixture: ServiceProcess, service: string): void {
  const entries = fixture.entries();
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect(ECS_FIELDS.filter((field) => !(field in entry))).toEqual([]);
    expect(entry['service.name']).toBe(service);
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
