import { disturbed } from './metrics';
import type { Knee, StageResult, Thresholds } from './result';
import type { LoadDriver } from './runner';

export interface SearchOptions {
  firstRooms: number;
  stepRooms: number;
  maxRooms: number;
  windowSeconds: number;
  thresholds: Thresholds;
  workers: number;
  /** Wall-clock budget: the search ends with what it has by then. */
  maxMinutes: number;
  onStage?: (stage: StageResult) => void;
}

/** Windows measured again when a breaking one was disturbed by other load on the machine. */
const DISTURBED_RETRIES = 2;

/** Why a search ended: only a threshold breaking marks the SFU's own limit. */
type StoppedBy = 'threshold' | 'generator' | 'limit';

/**
 * Raises the load stage by stage (more rooms of the same shape) until a stage breaks a threshold,
 * the load generator itself saturates (then the knee is only a lower bound), the room limit or the
 * time budget is reached. The knee is the last stage that passed.
 */
export async function capacitySearch(driver: LoadDriver, options: SearchOptions): Promise<{ stages: StageResult[]; knee: Knee }> {
  const stages: StageResult[] = [];
  const deadline = Date.now() + options.maxMinutes * 60_000;
  let stop: { by: StoppedBy; reason: string } = { by: 'limit', reason: `reached --max-rooms ${options.maxRooms}` };
  for (let add = options.firstRooms; driver.rooms + add <= options.maxRooms; add = options.stepRooms) {
    await driver.addRooms(add);
    let stage = await driver.measure(options.windowSeconds);
    // Someone else's burst of work can break a window on a shared machine; the same load gets another.
    for (let retry = 0; retry < DISTURBED_RETRIES && stage.breaches.length > 0 && disturbed(stage, 'measuring'); retry++) {
      stage = await driver.measure(options.windowSeconds);
    }
    stages.push(stage);
    options.onStage?.(stage);
    // A generator at its limit explains whatever broke at that stage: the SFU's limit is not shown.
    if (stage.generatorLimits.length > 0) {
      const broke = stage.breaches.length > 0 ? `; what broke then: ${stage.breaches.join('; ')}` : '';
      stop = { by: 'generator', reason: `the load generator saturated at ${stage.rooms} rooms (${stage.generatorLimits.join('; ')})${broke}` };
      break;
    }
    if (stage.breaches.length > 0) {
      stop = { by: 'threshold', reason: `stage at ${stage.rooms} rooms broke: ${stage.breaches.join('; ')}` };
      break;
    }
    if (Date.now() > deadline) {
      stop = { by: 'limit', reason: `time budget of ${options.maxMinutes} min used up` };
      break;
    }
  }
  return { stages, knee: kneeOf(stages, stop, options) };
}

function kneeOf(stages: readonly StageResult[], stop: { by: StoppedBy; reason: string }, options: SearchOptions): Knee {
  // A saturated generator can only make a stage look worse: one that passed anyway was carried by the SFU.
  const stage = [...stages].reverse().find((candidate) => candidate.breaches.length === 0);
  const lowerBound = stop.by !== 'threshold';
  if (!stage) return { reason: stop.reason, lowerBound };
  const busiest = Math.max(0, ...stage.sfu.workers.map((worker) => worker.cpu));
  return {
    stage,
    reason: stop.reason,
    lowerBound,
    consumersPerWorkerCore: stage.consumers / options.workers,
    // Forwarding cost is close to linear in consumers, so the CPU left at the knee says how far it would go.
    ...(busiest > 0.02 && { extrapolatedConsumersAtCpuLimit: Math.round((stage.consumers * options.thresholds.maxWorkerCpu) / busiest / options.workers) }),
  };
}
