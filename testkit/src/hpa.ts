/*
 * The HorizontalPodAutoscaler's decision (autoscaling/v2, as the kube-controller-manager makes it)
 * for one Pods or Object metric with an AverageValue target, so the autoscaling simulation
 * (scripts/sim-autoscale.ts) can say what an HPA with the shipped spec would do at each step:
 *   desired = ceil(current × metric / target), unless |metric / target − 1| ≤ tolerance (0.1);
 *   then the stabilization windows (the lowest recommendation of the scale-up window, the highest
 *   of the scale-down window), then the rate policies over their periods, then min/max replicas.
 * Defaults are Kubernetes' where the spec leaves a field out.
 */

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  policies: ScalingPolicy[];
  selectPolicy: 'Max' | 'Min' | 'Disabled';
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  metric: string;
  /** The target average value per pod, as a number. */
  target: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** The controller's default --horizontal-pod-autoscaler-tolerance. */
export const TOLERANCE = 0.1;

const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  policies: [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ],
  selectPolicy: 'Max',
};
const DEFAULT_SCALE_DOWN: ScalingRules = { stabilizationWindowSeconds: 300, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }], selectPolicy: 'Max' };

const SUFFIXES: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A Kubernetes quantity ("600m", "2", "1Gi") as a number. */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const match = /^([0-9.]+)(m|k|M|G|Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`not a quantity this parser knows: ${quantity}`);
  return Number(match[1]) * SUFFIXES[match[2] ?? '']!;
}

type RawRules = Partial<ScalingRules> | undefined;
type RawHpa = {
  spec: {
    minReplicas?: number;
    maxReplicas: number;
    metrics: { type: string; pods?: { metric: { name: string }; target: { type: string; averageValue?: string | number } } }[];
    behavior?: { scaleUp?: RawRules; scaleDown?: RawRules };
  };
};

const rulesOf = (raw: RawRules, defaults: ScalingRules): ScalingRules => ({
  stabilizationWindowSeconds: raw?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
  policies: raw?.policies ?? defaults.policies,
  selectPolicy: raw?.selectPolicy ?? 'Max',
});

/** The spec of an HPA object scaling on one Pods metric with an AverageValue target. */
export function hpaSpecOf(object: RawHpa): HpaSpec {
  const [metric, ...others] = object.spec.metrics;
  if (!metric?.pods || metric.pods.target.type !== 'AverageValue' || others.length > 0) throw new Error('the simulation knows one Pods metric with an AverageValue target');
  return {
    minReplicas: object.spec.minReplicas ?? 1,
    maxReplicas: object.spec.maxReplicas,
    metric: metric.pods.metric.name,
    target: parseQuantity(metric.pods.target.averageValue!),
    scaleUp: rulesOf(object.spec.behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rulesOf(object.spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN),
  };
}

/** One HPA's memory between evaluations: its past recommendations and scale events. */
export class HorizontalPodAutoscaler {
  readonly spec: HpaSpec;
  readonly #recommendations: { at: number; replicas: number }[] = [];
  readonly #events: { at: number; change: number }[] = [];

  constructor(spec: HpaSpec) {
    this.spec = spec;
  }

  /**
   * The replica count for `current` pods whose metric values are `values` (one per pod), at
   * `nowSeconds`. Records the recommendation and, when it changes the count, the scale event.
   */
  evaluate(nowSeconds: number, current: number, values: number[]): { desired: number; raw: number; ratio: number } {
    const average = values.reduce((sum, value) => sum + value, 0) / values.length;
    const ratio = average / this.spec.target;
    const raw = Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * values.length);
    this.#recommendations.push({ at: nowSeconds, replicas: raw });
    const stabilized = this.#stabilize(nowSeconds, current, raw);
    const desired = this.#limit(nowSeconds, current, stabilized);
    if (desired !== current) this.#events.push({ at: nowSeconds, change: desired - current });
    return { desired, raw, ratio };
  }

  #within(nowSeconds: number, windowSeconds: number) {
    return this.#recommendations.filter(({ at }) => at > nowSeconds - windowSeconds || at === nowSeconds).map(({ replicas }) => replicas);
  }

  #stabilize(nowSeconds: number, current: number, raw: number): number {
    const upRecommendation = Math.min(raw, ...this.#within(nowSeconds, this.spec.scaleUp.stabilizationWindowSeconds));
    const downRecommendation = Math.max(raw, ...this.#within(nowSeconds, this.spec.scaleDown.stabilizationWindowSeconds));
    let stabilized = current;
    if (stabilized < upRecommendation) stabilized = upRecommendation;
    if (stabilized > downRecommendation) stabilized = downRecommendation;
    return stabilized;
  }

  /** Pods added (positive) or removed (negative, as a count) within the last `periodSeconds`. */
  #changed(nowSeconds: number, periodSeconds: number, sign: 1 | -1): number {
    return this.#events.filter(({ at, change }) => at > nowSeconds - periodSeconds && Math.sign(change) === sign).reduce((sum, { change }) => sum + Math.abs(change), 0);
  }

  #limit(nowSeconds: number, current: number, proposed: number): number {
    let desired = proposed;
    if (desired > current) {
      const rules = this.spec.scaleUp;
      if (rules.selectPolicy === 'Disabled') desired = current;
      else {
        const limits = rules.policies.map((policy) => {
          const start = current - this.#changed(nowSeconds, policy.periodSeconds, 1);
          return policy.type === 'Pods' ? start + policy.value : Math.ceil(start * (1 + policy.value / 100));
        });
        desired = Math.min(desired, rules.selectPolicy === 'Max' ? Math.max(...limits) : Math.min(...limits));
      }
    } else if (desired < current) {
      const rules = this.spec.scaleDown;
      if (rules.selectPolicy === 'Disabled') desired = current;
      else {
        const limits = rules.policies.map((policy) => {
          const start = current + this.#changed(nowSeconds, policy.periodSeconds, -1);
          return policy.type === 'Pods' ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
        });
        // Max allows the biggest change (the fewest pods); Min the smallest.
        desired = Math.max(desired, rules.selectPolicy === 'Max' ? Math.min(...limits) : Math.max(...limits));
      }
    }
    return Math.min(this.spec.maxReplicas, Math.max(this.spec.minReplicas, desired));
  }
}
