import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually, sleep } from './wait';

/* A service started as a real process through tsx (its own process group), its output kept line by line for checks and failure reports. */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
/** Settings a developer's shell may carry that must not leak into the service under test. */
const OWN_SETTINGS = /^(SFU_|SIGNALING_|API_|REDIS_|CONCORD_|CORS_|SESSION_TTL|GRANT_TTL|AUTH_RATE_LIMIT|LOG_|OPS_|METRICS_TOKEN|SHUTDOWN_|DATABASE_URL|PORT|HOST)/;
/** How much of a process's output a failure report shows, from the end. */
const REPORT_CHARS = 64 * 1024;

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

  /** `script` relative to the repository root; `name` says which process it is in reports. */
  constructor(
    script: string,
    env: Record<string, string>,
    readonly name = script,
  ) {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !OWN_SETTINGS.test(key)));
    this.child = spawn(TSX, [script], { cwd: ROOT, env: { ...inherited, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.once('error', (error) => (this.stderr += `spawn failed: ${error.message}\n`));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
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

  /** SIGTERM and SIGINT are the clean stop: tsx relays them to the service, which drains and exits. */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /**
   * A crash: SIGKILL to the whole group. tsx runs the service in a child process, so killing tsx
   * alone would leave the service running; the group also holds its mediasoup workers.
   */
  crash(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already.
    }
  }

  /** Ends the whole group if still there, and resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.child.pid === undefined) return;
    this.crash();
    await this.exited;
  }

  /** Resolves once the process has exited; fails after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<void> {
    await eventually(() => !this.running, timeoutMs, `${this.name} exits`);
  }

  /** The process's state and the end of its output, for a failure report. */
  report(): string {
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : 'running';
    return `\n===== ${this.name}: ${status} =====\n${this.output().slice(-REPORT_CHARS) || '(no output)\n'}`;
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
