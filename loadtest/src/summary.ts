import type { LoadTestResult, StageResult, TargetRun } from './result';

/** What a run concluded, for the result's ratios and the terminal's last lines. */

/** Platform over baseline at the same load: the platform's knee (or last stage) against the baseline's one stage. */
export function ratiosOf(runs: TargetRun[]): Pick<LoadTestResult, 'ratios'> {
  const platformRun = runs.find((run) => run.label === 'platform');
  const platform = platformRun?.knee?.stage ?? platformRun?.stages.at(-1);
  const baseline = runs.find((run) => run.label === 'baseline')?.stages[0];
  if (!platform || !baseline) return {};
  const busiest = (stage: StageResult) => Math.max(0, ...stage.sfu.workers.map((worker) => worker.cpu));
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return {
    ratios: {
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
    lines.push(`platform / bare mediasoup: worker CPU ×${r.workerCpu.toFixed(2)}, CPU per packet ×${r.workerCpuPerPacket.toFixed(2)}, join p95 ×${r.joinP95.toFixed(2)}`);
  }
  return lines.join('\n');
}
