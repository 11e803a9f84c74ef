import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import type { DestinationStream, Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError } from './config';
import { createLogger } from './logger';
import { opsHandler, startOpsServer, type OpsAction, type OpsHandler, type OpsServer } from './ops-endpoints';
import { Readiness } from './readiness';
import { registerReadinessMetrics } from './readiness-metrics';
import type { ShellConfig } from './shell-config';

/**
 * The steps of a stop, in order: stop taking new work (close listeners, leave the registry), let the
 * work in hand finish or hand it off (tell clients, wait for requests), then close connections and
 * stores. The steps of one phase run together.
 */
export const STOP_PHASES = ['stop-accepting', 'drain', 'close'] as const;
export type StopPhase = (typeof STOP_PHASES)[number];

export interface ServiceShellOptions {
  /** ECS service.name. */
  service: string;
  /** ECS service.node.name; default host name + random suffix. */
  nodeId?: string;
  config: ShellConfig;
  /** Where log lines go (tests); default stdout. */
  logDestination?: DestinationStream;
}

/**
 * What every service starts through: its logger, its readiness, the ops endpoints, and one
 * SIGTERM/SIGINT path (stop accepting → drain → close, bounded by SHUTDOWN_TIMEOUT_MS; exit 0 when
 * clean, 1 when a step failed or the deadline passed; a second signal exits at once).
 */
export class ServiceShell {
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly nodeId: string;
  private readonly actions: OpsAction[] = [];
  private readonly steps = new Map<StopPhase, { name: string; run: () => Promise<unknown> }[]>(STOP_PHASES.map((phase) => [phase, []]));
  private handler: OpsHandler | undefined;
  private opsServer: OpsServer | undefined;
  private stopping: Promise<number> | undefined;

  constructor(private readonly options: ServiceShellOptions) {
    this.nodeId = options.nodeId ?? `${os.hostname()}-${randomBytes(3).toString('hex')}`;
    this.log = createLogger({
      service: options.service,
      nodeId: this.nodeId,
      level: options.config.logLevel,
      ...(options.config.logFormat && { format: options.config.logFormat }),
      ...(options.logDestination && { destination: options.logDestination }),
    });
    this.readiness = new Readiness(this.log);
  }

  /** Runs `run` in `phase` of the stop; steps of a phase run concurrently. */
  onStop(phase: StopPhase, name: string, run: () => Promise<unknown>): void {
    this.steps.get(phase)!.push({ name, run });
  }

  /** Offers `POST <path>` on the ops listener (before `start`); see OpsAction. */
  addOpsAction(action: OpsAction): void {
    this.actions.push(action);
  }

  /**
   * Serves the ops endpoints (on OPS_PORT when set) with the service's metrics registry and takes
   * over SIGTERM and SIGINT. Call once the service is up.
   */
  async start(metrics: Registry): Promise<void> {
    const { config } = this.options;
    registerReadinessMetrics(this.readiness, metrics);
    this.handler = opsHandler({ readiness: this.readiness, metrics, actions: this.actions, ...(config.metricsToken && { metricsToken: config.metricsToken }) });
    if (config.opsPort !== undefined) {
      this.opsServer = await startOpsServer(this.handler, config.opsPort, config.opsHost);
      this.log.info({ 'url.full': this.opsServer.url }, `ops endpoints on ${this.opsServer.url} (/healthz, /readyz, /metrics)`);
    }
    let signalled = false;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (signalled) {
          this.log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        signalled = true;
        // Joins a stop an ops action began (Kubernetes sends SIGTERM right after a preStop POST /drain).
        this.exitAfterStop(signal);
      });
    }
  }

  /** Stops as on SIGTERM (the same path, once) and then exits the process with the stop's code. */
  exitAfterStop(reason: string): void {
    void this.stop(reason).then((code) => process.exit(code));
  }

  /** The ops endpoints for another listener (the single process serves them on its main port). */
  handleOps(req: IncomingMessage, res: ServerResponse): boolean {
    return this.handler?.(req, res) ?? false;
  }

  /** The ops listener's URL, when it has its own. */
  get opsUrl(): string | undefined {
    return this.opsServer?.url;
  }

  /** Stops the service; resolves with the exit code (0: every step finished in time). Idempotent. */
  stop(reason: string): Promise<number> {
    return (this.stopping ??= this.runStop(reason));
  }

  private async runStop(reason: string): Promise<number> {
    const deadlineMs = this.options.config.shutdownTimeoutMs;
    const started = Date.now();
    this.log.info({ reason, 'shutdown.deadline_ms': deadlineMs }, `stopping (${reason})`);
    this.readiness.startDraining();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deadlineMs);
    });
    const outcome = await Promise.race([this.runPhases(), deadline]);
    clearTimeout(timer);
    await this.opsServer?.close();
    const elapsedMs = Date.now() - started;
    if (outcome === 'late') {
      this.log.error({ 'event.duration': elapsedMs * 1e6 }, `stop did not finish within SHUTDOWN_TIMEOUT_MS (${deadlineMs} ms): exiting anyway`);
      return 1;
    }
    if (!outcome) return 1;
    this.log.info({ 'event.duration': elapsedMs * 1e6 }, `stopped in ${elapsedMs} ms`);
    return 0;
  }

  /** True when every step succeeded. */
  private async runPhases(): Promise<boolean> {
    let clean = true;
    for (const phase of STOP_PHASES) {
      const results = await Promise.allSettled(this.steps.get(phase)!.map((step) => step.run()));
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') return;
        clean = false;
        this.log.error({ err: result.reason, 'shutdown.phase': phase }, `stop step ${this.steps.get(phase)![i]!.name} failed`);
      });
    }
    return clean;
  }
}

/**
 * Runs a service's main; a failure to start is logged (a configuration error by its message
 * alone, which names the variable) and exits 1.
 */
export function runService(service: string, main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    const log = createLogger({ service, nodeId: os.hostname(), level: 'info' });
    if (error instanceof ConfigError) log.fatal(`${service} cannot start: ${error.message}`);
    else log.fatal({ err: error }, `${service} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
