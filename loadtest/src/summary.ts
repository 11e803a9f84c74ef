import type { LoadTestResult, StageResult, TargetRun } from './result';

/** What a run concluded, for the result's ratios and the terminal's last lines. */

const clean = (stage: StageResult): boolean => stage.breaches.length === 0 && stage.generatorLimits.length === 0;

/**
 * Platform over baseline at the same load: at the most rooms where both stages are clean (no
 * threshold broken, generator not saturated), else at the most rooms both measured.
 */
export function ratiosOf(runs: TargetRun[]): Pick<LoadTestResult, 'ratios'> {
  const platformStages = runs.find((run) => run.label === 'platform')?.stages ?? [];
  const baselineStages = runs.find((run) => run.label === 'baseline')?.stages ?? [];
  const pairs = platformStages.flatMap((platform) => {
    const baseline = baselineStages.find((candidate) => candidate.rooms === platform.rooms);
    return baseline ? [{ platform, baseline }] : [];
  });
  const pair = pairs.filter(({ platform, baseline }) => clean(platform) && clean(baseline)).at(-1) ?? pairs.at(-1);
  if (!pair) return {};
  const { platform, baseline } = pair;
  const busiest = (stage: StageResult) => Math.max(0, ...stage.sfu.workers.map((worker) => worker.cpu));
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return {
    ratios: {
      rooms: platform.rooms,
      consumers: platform.consumers,
      workerCpu: ratio(busiest(platform), busiest(baseline)),
      workerCpuPerPacket: ratio(platform.sfu.workerCpuUsPerPacket, baseline.sfu.workerCpuUsPerPacket),
      joinP95: ratio(platform.join.transportsMs.p95, baseline.join.transportsMs.p95),
      lossPct: { platform: platform.receive.lossPct, baseline: baseline.receive.lossPct },
    },
  };
}

export function summaryOf(result: LoadTestResult): string {
  const lines: string[] = [];
  for (const run of result.runs) {
    if (run.knee) {
      const { knee } = run;
      lines.push(
        knee.stage
          ? `${run.label} knee: ${knee.stage.consumers} consumers at ${knee.stage.rooms} rooms = ${knee.consumersPerWorkerCore?.toFixed(0)} consumers per worker core${knee.lowerBound ? ' (lower bound)' : ''}` +
              (knee.extrapolatedConsumersAtCpuLimit ? `; CPU-extrapolated ${knee.extrapolatedConsumersAtCpuLimit}` : '') +
              ` — ${knee.reason}`
          : `${run.label}: no stage passed — ${knee.reason}`,
      );
    }
  }
  if (result.ratios) {
    const r = result.ratios;
    lines.push(`platform / bare mediasoup at ${r.rooms} rooms (${r.consumers} consumers): worker CPU ×${r.workerCpu.toFixed(2)}, CPU per packet ×${r.workerCpuPerPacket.toFixed(2)}, join p95 ×${r.joinP95.toFixed(2)}`);
  }
  return lines.join('\n');
}
