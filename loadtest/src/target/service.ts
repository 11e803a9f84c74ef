import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const STOP_GRACE_MS = 8_000;
/** How much of a service's output is kept for an error message, from the end. */
const KEPT_OUTPUT_CHARS = 20_000;

/**
 * A service of the platform (`standalone/src/main.ts`, `sfu/src/main.ts`, …) started through tsx
 * in its own process group, so that tsx, Node and its mediasoup workers are stopped — or killed —
 * together, also when the load test is interrupted.
 */
export class ServiceChild {
  readonly name: string;
  readonly exited: Promise<void>;
  readonly #child: ChildProcess;
  #output = '';

  constructor(name: string, script: string, env: Record<string, string>) {
    this.name = name;
    this.#child = spawn(TSX, [script], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-KEPT_OUTPUT_CHARS);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /** The group leader (tsx); the service and its workers are below it. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The end of what it wrote, for error messages. */
  get output(): string {
    return this.#output;
  }

  /** Resolves once `ready()` is true; fails when the service exits first or `timeoutMs` passes. */
  async waitReady(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited before it was ready:\n${this.#output}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready within ${timeoutMs / 1000} s:\n${this.#output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** SIGTERM (tsx passes it on and the service closes gracefully), the group's SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    if (this.running) {
      this.#child.kill('SIGTERM');
      const hardKill = setTimeout(() => killGroup(pid), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(hardKill);
    }
    // Stragglers of the group (workers whose parent went first).
    killGroup(pid);
  }

  /** SIGKILL to the whole group at once: a crash, as a machine failing would make it. */
  async kill(): Promise<void> {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    killGroup(pid);
    await this.exited;
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}
