import type { Registry } from 'prom-client';

/**
 * The sum of the series of metric `name` in `registry` whose labels include `labels`, as the
 * registry collects them now. A histogram's `_count` and `_sum` are read from the histogram.
 */
export async function metricTotal(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name.replace(/_(count|sum)$/, ''));
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((entry) => ((entry as { metricName?: string }).metricName ?? name) === name)
    .filter((entry) => Object.entries(labels).every(([key, wanted]) => String(entry.labels[key]) === wanted))
    .reduce((sum, entry) => sum + entry.value, 0);
}
