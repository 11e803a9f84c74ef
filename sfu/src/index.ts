export { SfuNode, type SfuNodeOptions } from './sfu-node';
export { loadSfuConfig, type SfuConfig, type SfuConfigOverrides } from './config';
export type { WorkerSummary } from './worker-pool';
export { SfuMetrics, type SfuMetricsOptions } from './metrics';
