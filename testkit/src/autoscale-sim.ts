import path from 'node:path';
import { HorizontalPodAutoscaler, hpaSpecOf, type HpaSpec } from './hpa';
import { kustomizeBuild } from './kustomize';
import { SfuFleet } from './sfu-fleet';

/*
 * The SFU autoscaling simulation (npm run sim:autoscale, tests/autoscale-sim.test.ts): a load of
 * calls rising and falling step by step through real SFU pods (SfuFleet), each step's HPA decision
 * made from the pods' real /metrics with the spec of the shipped HorizontalPodAutoscaler
 * (docker/k8s/base, read at run time), scale-up by new pods and scale-down only by draining the
 * highest ordinal. One HPA evaluation per step; a step stands for `stepSeconds` of time.
 */

export interface SimOptions {
  /** Calls in progress at each step. */
  profile: readonly number[];
  /** SFU_CAPACITY of every pod, in streams. */
  capacity: number;
  stepSeconds: number;
  /** Called with each row as it is made (the script prints them). */
  onStep?: (row: SimRow) => void;
}

export interface SimRow {
  step: number;
  minute: number;
  calls: number;
  pods: number;
  /** concord_sfu_load_ratio of each pod the HPA counts, as scraped. */
  loadRatios: number[];
  /** Their average against the target: what the HPA compares with 1 ± tolerance. */
  ratio: number;
  /** ceil(pods × ratio) before stabilization and policies. */
  raw: number;
  desired: number;
  /** Pods added, or drained and removed with the calls they moved. */
  action: string;
}

export interface SimResult {
  spec: HpaSpec;
  rows: SimRow[];
  /** Rooms the SFU closed under their peers: must stay empty. */
  roomsClosedUnderPeers: string[];
  /** Calls whose room was not on a running pod at the end of some step: must stay empty. */
  callsWithoutPod: string[];
}

/** The shipped SFU HPA's spec, from the rendered base. */
export function shippedSfuHpa(root = path.resolve(__dirname, '../..')): HpaSpec {
  const hpa = kustomizeBuild(path.join(root, 'docker/k8s/base')).find((object) => object.kind === 'HorizontalPodAutoscaler' && object.metadata.name === 'sfu');
  if (!hpa) throw new Error('docker/k8s/base has no HorizontalPodAutoscaler sfu');
  return hpaSpecOf(hpa as unknown as Parameters<typeof hpaSpecOf>[0]);
}

export async function simulateAutoscaling(options: SimOptions): Promise<SimResult> {
  const spec = shippedSfuHpa();
  const hpa = new HorizontalPodAutoscaler(spec);
  const fleet = new SfuFleet(options.capacity);
  const rows: SimRow[] = [];
  const callsWithoutPod: string[] = [];
  try {
    for (let i = 0; i < spec.minReplicas; i++) await fleet.addPod();
    for (const [step, calls] of options.profile.entries()) {
      while (fleet.calls.length < calls) await fleet.startCall();
      while (fleet.calls.length > calls) await fleet.endCall();
      await fleet.settled();
      const samples = await Promise.all(fleet.pods.map((pod) => fleet.scrape(pod)));
      const pods = fleet.pods.length;
      const { desired, raw, ratio } = hpa.evaluate(step * options.stepSeconds, pods, samples.map((sample) => sample.loadRatio));
      let action = '';
      if (desired > pods) {
        for (let i = pods; i < desired; i++) await fleet.addPod();
        action = `+${desired - pods} (${fleet.pods.slice(pods).map((pod) => pod.name).join(', ')})`;
      } else if (desired < pods) {
        const drained: string[] = [];
        // The StatefulSet removes the highest ordinals first.
        for (const pod of fleet.pods.slice(desired).reverse()) drained.push(`${pod.name} drained, ${await fleet.drainAndRemove(pod)} calls moved`);
        action = `-${pods - desired}: ${drained.join('; ')}`;
      }
      for (const call of fleet.calls) if (!fleet.pods.includes(call.pod) || call.pod.node.draining) callsWithoutPod.push(`${call.roomId} at step ${step}`);
      const row = { step, minute: (step * options.stepSeconds) / 60, calls, pods, loadRatios: samples.map((sample) => sample.loadRatio), ratio, raw, desired, action };
      rows.push(row);
      options.onStep?.(row);
    }
    return { spec, rows, roomsClosedUnderPeers: fleet.roomsClosedUnderPeers(), callsWithoutPod };
  } finally {
    await fleet.close();
  }
}

/** A rise to the peak over `rise` steps, `hold` steps there, a fall over `rise` steps, and `tail` steps at the floor. */
export function riseAndFall(floor: number, peak: number, rise: number, hold: number, tail: number): number[] {
  const up = Array.from({ length: rise }, (_, i) => Math.round(floor + ((peak - floor) * (i + 1)) / rise));
  return [floor, ...up, ...Array<number>(hold).fill(peak), ...[...up].reverse().slice(1), ...Array<number>(tail).fill(floor)];
}

export const SIM_TABLE_HEADER = '| step | minute | calls | pods | load ratio per pod | average / target | raw | desired | action |\n|---|---|---|---|---|---|---|---|---|';

export const simTableRow = (row: SimRow): string =>
  `| ${row.step} | ${row.minute} | ${row.calls} | ${row.pods} | ${row.loadRatios.map((value) => value.toFixed(2)).join(' ')} | ${row.ratio.toFixed(2)} | ${row.raw} | ${row.desired} | ${row.action} |`;
