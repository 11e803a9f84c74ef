import { Gauge, type Registry } from 'prom-client';
import type { Readiness, ReadinessReport } from './readiness';

/** Scrapes of both gauges within this long share one round of checks. */
const REPORT_REUSE_MS = 1_000;

/**
 * Readiness as metrics, so alerts see what /readyz sees: `concord_readiness_check_up{check}` per
 * registered check (database, redis, workers…) and `concord_ready` for the whole. The checks
 * run when Prometheus scrapes, each bounded by the readiness timeout.
 */
export function registerReadinessMetrics(readiness: Readiness, registry: Registry): void {
  let last: { at: number; report: Promise<ReadinessReport> } | undefined;
  const report = (): Promise<ReadinessReport> => {
    if (!last || Date.now() - last.at > REPORT_REUSE_MS) last = { at: Date.now(), report: readiness.report() };
    return last.report;
  };
  new Gauge({
    name: 'concord_readiness_check_up',
    help: '1 while the readiness check (a dependency such as the database or Redis) passes, else 0',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [check, result] of Object.entries((await report()).checks)) this.set({ check }, result === 'ok' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'concord_ready',
    help: '1 while the service is ready for work (every check passes, not draining), else 0',
    registers: [registry],
    async collect() {
      this.set((await report()).ready ? 1 : 0);
    },
  });
}
