import type { LoadTestResult, PipeComparison, RunLabel, ScaleOut, StageResult, TargetRun } from './result';

/** What a run concluded, for the result's ratios and the terminal's last lines. */

const clean = (stage: StageResult): boolean => stage.breaches.length === 0 && stage.generatorLimits.length === 0;
const busiest = (stage: StageResult) => Math.max(0, ...stage.sfu.workers.map((worker) => worker.cpu));
const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
const stagesOf = (runs: TargetRun[], label: RunLabel) => runs.find((run) => run.label === label)?.stages ?? [];

/**
 * Stages of two runs at the same load: at the most rooms where both are clean (no threshold
 * broken, generator not saturated), else at the most rooms both measured.
 */
function sameLoad(runs: TargetRun[], first: RunLabel, second: RunLabel): { a: StageResult; b: StageResult } | undefined {
  const other = stagesOf(runs, second);
  const pairs = stagesOf(runs, first).flatMap((a) => {
    const b = other.find((candidate) => candidate.rooms === a.rooms);
    return b ? [{ a, b }] : [];
  });
  return pairs.filter(({ a, b }) => clean(a) && clean(b)).at(-1) ?? pairs.at(-1);
}

/** Platform over baseline at the same load. */
export function ratiosOf(runs: TargetRun[]): Pick<LoadTestResult, 'ratios'> {
  const pair = sameLoad(runs, 'platform', 'baseline');
  if (!pair) return {};
  const { a: platform, b: baseline } = pair;
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

/** The piped run over the platform's at the same load: all workers' CPU per forwarded packet. */
export function pipeOf(runs: TargetRun[]): PipeComparison | undefined {
  const pair = sameLoad(runs, 'platform', 'piped');
  if (!pair) return undefined;
  const { a: oneRouter, b: piped } = pair;
  const cpus = (stage: StageResult) => stage.sfu.workers.map((worker) => worker.cpu).sort((x, y) => y - x);
  return {
    rooms: piped.rooms,
    consumers: piped.consumers,
    workerCpuUsPerPacket: { oneRouter: oneRouter.sfu.workerCpuUsPerPacket, piped: piped.sfu.workerCpuUsPerPacket, ratio: ratio(piped.sfu.workerCpuUsPerPacket, oneRouter.sfu.workerCpuUsPerPacket) },
    workerCpu: { oneRouter: cpus(oneRouter), piped: cpus(piped) },
    lossPct: { oneRouter: oneRouter.receive.lossPct, piped: piped.receive.lossPct },
  };
}

/** The platform's knee (N nodes) over one node's, from two capacity searches. */
export function scaleOutOf(runs: TargetRun[], nodes: number): ScaleOut | undefined {
  const many = runs.find((run) => run.label === 'platform')?.knee;
  const one = runs.find((run) => run.label === 'one node')?.knee;
  if (!many?.stage || !one?.stage) return undefined;
  return {
    nodes,
    kneeConsumers: { nodes: many.stage.consumers, oneNode: one.stage.consumers, ratio: ratio(many.stage.consumers, one.stage.consumers) },
    lowerBound: many.lowerBound || one.lowerBound,
    generatorUsPerPacket: { nodes: many.stage.generator.cpuUsPerPacket, oneNode: one.stage.generator.cpuUsPerPacket },
    workerCpuUsPerPacket: { nodes: many.stage.sfu.workerCpuUsPerPacket, oneNode: one.stage.sfu.workerCpuUsPerPacket },
  };
}

const pcts = (cpus: number[]) => cpus.map((cpu) => `${Math.round(cpu * 100)}%`).join(' + ');

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
  if (result.pipe) {
    const p = result.pipe;
    lines.push(
      `piped / one router at ${p.rooms} rooms (${p.consumers} consumers): worker CPU per forwarded packet ${p.workerCpuUsPerPacket.piped.toFixed(1)} / ${p.workerCpuUsPerPacket.oneRouter.toFixed(1)} µs = ×${p.workerCpuUsPerPacket.ratio.toFixed(2)}` +
        ` (workers ${pcts(p.workerCpu.piped)} against ${pcts(p.workerCpu.oneRouter)}; loss ${p.lossPct.piped.toFixed(2)}% / ${p.lossPct.oneRouter.toFixed(2)}%)`,
    );
  }
  if (result.scaleOut) {
    const s = result.scaleOut;
    lines.push(
      `scale-out: ${s.nodes} nodes / 1 node = ${s.kneeConsumers.nodes} / ${s.kneeConsumers.oneNode} consumers at the knee = ×${s.kneeConsumers.ratio.toFixed(2)}${s.lowerBound ? ' (a knee is a lower bound: the generator, not the SFU, ended a search)' : ''}` +
        `; worker ${s.workerCpuUsPerPacket.nodes.toFixed(1)} / ${s.workerCpuUsPerPacket.oneNode.toFixed(1)} µs, generator ${s.generatorUsPerPacket.nodes.toFixed(1)} / ${s.generatorUsPerPacket.oneNode.toFixed(1)} µs per forwarded packet`,
    );
  }
  return lines.join('\n');
}
