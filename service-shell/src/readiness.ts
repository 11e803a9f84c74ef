import type { Logger } from 'pino';

/** Resolves when the dependency is usable; throws (or resolves false) when it is not. */
export type ReadinessCheck = () => Promise<boolean | void>;

export interface ReadinessReport {
  ready: boolean;
  /** Per check: `ok` or `failing`; `draining` while the service stops. Reasons go to the log, not here. */
  checks: Record<string, 'ok' | 'failing'>;
  draining: boolean;
}

/** A check that has not answered by then counts as failing. */
const CHECK_TIMEOUT_MS = 2_000;

/** Whether the service should be given work: every registered check passes and it is not draining. */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private drainingSince: number | undefined;

  constructor(private readonly log: Logger) {}

  /** e.g. `register('database', () => db.query('select 1'))`. */
  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check ${name} is registered twice`);
    this.checks.set(name, check);
  }

  /** From now on not ready: the service is stopping. */
  startDraining(): void {
    this.drainingSince ??= Date.now();
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  async report(): Promise<ReadinessReport> {
    const results = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, (await this.passes(name, check)) ? 'ok' : 'failing'] as const),
    );
    const checks = Object.fromEntries(results);
    return { ready: !this.draining && results.every(([, result]) => result === 'ok'), checks, draining: this.draining };
  }

  private async passes(name: string, check: ReadinessCheck): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    });
    try {
      if ((await Promise.race([check(), timeout])) === false) throw new Error('not ready');
      return true;
    } catch (error) {
      this.log.warn({ err: error, 'readiness.check': name }, `readiness check ${name} failing`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
