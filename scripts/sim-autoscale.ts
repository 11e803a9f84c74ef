/**
 * `npm run sim:autoscale`: what the SFU's HorizontalPodAutoscaler, as shipped in docker/k8s/base,
 * would do with a load of calls that rises and falls — measured on real SFU nodes through their
 * real /metrics, scale-down only by draining (testkit/src/autoscale-sim.ts). Prints a markdown
 * table, one row per HPA evaluation (docs/kubernetes.md shows one).
 */
import { riseAndFall, SIM_TABLE_HEADER, simTableRow, simulateAutoscaling } from '@concord/testkit/src/autoscale-sim';
import { parseCommandLine, runCli, UsageError } from './cli';

const USAGE = `npm run sim:autoscale -- [options]
  --peak N           calls at the peak (default 16; 2 peers and 4 streams each)
  --capacity N       SFU_CAPACITY of every node, in streams (default 20)
  --step-seconds N   time one step (one HPA evaluation) stands for (default 60)
`;

const count = (flag: string, value: string | undefined, fallback: number, max: number): number => {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > max) throw new UsageError(`${flag} must be an integer in 1..${max}, got "${value}"`);
  return number;
};

runCli('sim:autoscale', USAGE, async () => {
  const { values } = parseCommandLine({ options: { peak: { type: 'string' }, capacity: { type: 'string' }, 'step-seconds': { type: 'string' } } });
  const peak = count('--peak', values.peak, 16, 200);
  const stepSeconds = count('--step-seconds', values['step-seconds'], 60, 3600);
  const profile = riseAndFall(2, peak, 8, 3, Math.ceil(2400 / stepSeconds));
  console.log(SIM_TABLE_HEADER);
  const result = await simulateAutoscaling({ profile, capacity: count('--capacity', values.capacity, 20, 100_000), stepSeconds, onStep: (row) => console.log(simTableRow(row)) });
  const { spec } = result;
  console.log(
    `\nHPA (docker/k8s/base/sfu.yaml): ${spec.metric} target ${spec.target}, ${spec.minReplicas}..${spec.maxReplicas} pods, scale-down window ${spec.scaleDown.stabilizationWindowSeconds} s` +
      `\nrooms closed under their peers: ${result.roomsClosedUnderPeers.length}; calls left without a running pod: ${result.callsWithoutPod.length}`,
  );
  if (result.roomsClosedUnderPeers.length + result.callsWithoutPod.length > 0) process.exitCode = 1;
});
