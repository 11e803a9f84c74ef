import { riseAndFall, shippedSfuHpa, simulateAutoscaling, type SimResult } from '@concord/testkit/src/autoscale-sim';
import { HorizontalPodAutoscaler, parseQuantity, TOLERANCE, type HpaSpec } from '@concord/testkit/src/hpa';
import { SfuFleet } from '@concord/testkit/src/sfu-fleet';
import { eventually } from '@concord/testkit/src/wait';

/*
 * The SFU's scaling signal end to end (issue: autoscaling that follows load): calls rise and fall
 * through real SFU nodes; at each step the HPA algorithm with the shipped spec (docker/k8s/base,
 * read at run time) decides from the nodes' real /metrics. Pods follow the load up, come back
 * down only by draining — one at a time, after the stabilization window — and no call is dropped.
 */

const spec = shippedSfuHpa();
const STEP_SECONDS = 60;

describe('the HPA algorithm with the shipped SFU spec', () => {
  test('reads the shipped spec', () => {
    expect(spec.metric).toBe('concord_sfu_load_ratio');
    expect(spec.target).toBeCloseTo(0.6, 10);
    expect(spec.scaleDown.stabilizationWindowSeconds).toBeGreaterThan(0);
    expect(parseQuantity('600m')).toBeCloseTo(0.6, 10);
    expect(parseQuantity('2Gi')).toBe(2 * 1024 ** 3);
  });

  test('holds within the tolerance, scales up by the policies, down after the window at the policy rate', () => {
    const hpa = new HorizontalPodAutoscaler(spec);
    const at = (pods: number, ratio: number) => Array<number>(pods).fill(ratio * spec.target);
    expect(hpa.evaluate(0, 2, at(2, 1.08)).desired).toBe(2);
    // Ratio 5 asks for 10 pods; one minute allows max(2 pods, 50 %) more.
    const up = hpa.evaluate(60, 2, at(2, 5));
    expect(up.raw).toBe(10);
    expect(up.desired).toBe(4);
    expect(hpa.evaluate(120, 4, at(4, 2)).desired).toBe(6);
    // Load gone: nothing happens within the window, then one pod per policy period.
    const window = spec.scaleDown.stabilizationWindowSeconds;
    const period = spec.scaleDown.policies[0]!.periodSeconds;
    let pods = 6;
    const removals: number[] = [];
    for (let t = 180; t <= 180 + window + 4 * period; t += 60) {
      const { desired } = hpa.evaluate(t, pods, at(pods, 0.1));
      if (desired < pods) removals.push(t);
      expect(pods - desired).toBeLessThanOrEqual(1);
      pods = desired;
    }
    expect(removals[0]).toBeGreaterThan(120 + window - 60);
    for (let i = 1; i < removals.length; i++) expect(removals[i]! - removals[i - 1]!).toBeGreaterThanOrEqual(period);
  });

  test('a spec without policies would drop straight to the floor (the shipped one must not)', () => {
    const unlimited: HpaSpec = { ...spec, scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }], selectPolicy: 'Max' } };
    const hpa = new HorizontalPodAutoscaler(unlimited);
    expect(hpa.evaluate(0, 8, Array<number>(8).fill(0.01)).desired).toBe(spec.minReplicas);
  });
});

describe('real SFU nodes under a rising and falling load', () => {
  let result: SimResult;

  beforeAll(async () => {
    const profile = riseAndFall(2, 16, 8, 3, 2400 / STEP_SECONDS);
    result = await simulateAutoscaling({ profile, capacity: 20, stepSeconds: STEP_SECONDS });
  }, 240_000);

  test('pods follow the load up and come back to the floor', () => {
    const { rows } = result;
    const peak = Math.max(...rows.map((row) => row.desired));
    // 16 calls × 4 streams = 64: five pods of 20 run at 0.64 on average, within the tolerance of the 0.6 target.
    expect(peak).toBe(5);
    const atPeak = rows.filter((row) => row.calls === 16);
    expect(atPeak.every((row) => Math.abs(row.ratio - 1) <= TOLERANCE)).toBe(true);
    expect(rows.at(-1)!.desired).toBe(spec.minReplicas);
    for (const row of rows) expect(row.loadRatios.every((ratio) => ratio >= 0 && ratio <= 1)).toBe(true);
  });

  test('scale-down: one pod at a time, after the window, each drained before it goes', () => {
    const removals = result.rows.filter((row) => row.desired < row.pods);
    expect(removals.length).toBe(5 - spec.minReplicas);
    const window = spec.scaleDown.stabilizationWindowSeconds;
    for (const row of removals) {
      expect(row.pods - row.desired).toBe(1);
      expect(row.action).toMatch(/^-1: sfu-\d+ drained, \d+ calls moved$/);
      const recent = result.rows.filter((earlier) => earlier.minute * 60 > row.minute * 60 - window && earlier.step <= row.step);
      expect(row.desired).toBeGreaterThanOrEqual(Math.max(...recent.map((earlier) => earlier.raw)));
    }
    const period = spec.scaleDown.policies[0]!.periodSeconds;
    for (let i = 1; i < removals.length; i++) expect((removals[i]!.minute - removals[i - 1]!.minute) * 60).toBeGreaterThanOrEqual(period);
  });

  test('no call is dropped: no room closed under its peers, every call on a running pod at every step', () => {
    expect(result.roomsClosedUnderPeers).toEqual([]);
    expect(result.callsWithoutPod).toEqual([]);
  });
});

test('stopping a pod without its drain is seen as calls dropped', async () => {
  const fleet = new SfuFleet(20);
  try {
    const pod = await fleet.addPod();
    await fleet.startCall();
    await fleet.settled();
    expect((await fleet.scrape(pod)).loadRatio).toBeCloseTo(4 / 20, 10);
    await pod.node.close();
    await eventually(() => fleet.roomsClosedUnderPeers().length > 0, 5_000, 'voice:roomClosed to the call');
  } finally {
    await fleet.close();
  }
});
