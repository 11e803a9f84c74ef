import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The API's Prometheus metrics, in a registry of its own (not prom-client's global one), so that
 * several API instances in one process — tests, the embedded launcher — never share counters.
 * Served as text by GET /api/metrics.
 */
export class ApiMetrics {
  readonly registry = new Registry();

  /** Lookups per cache (what is cached: roles, channels, …) and result (hit or miss). */
  readonly cacheRequests: Counter<'cache' | 'result'>;
  /** Cache operations that failed (Redis away); the request went on without the cache. */
  readonly cacheErrors: Counter<'operation'>;

  private readonly tallies = new Map<string, { hits: number; misses: number }>();

  constructor() {
    this.cacheRequests = new Counter({
      name: 'concord_cache_requests_total',
      help: 'Cache lookups by cached data and result (hit or miss)',
      labelNames: ['cache', 'result'],
      registers: [this.registry],
    });
    this.cacheErrors = new Counter({
      name: 'concord_cache_errors_total',
      help: 'Cache operations that failed (the request fell back to the database)',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    const tallies = this.tallies;
    new Gauge({
      name: 'concord_cache_hit_ratio',
      help: 'Share of cache lookups answered from the cache since start, per cached data and over all ("all")',
      labelNames: ['cache'],
      registers: [this.registry],
      collect() {
        let hits = 0;
        let misses = 0;
        for (const [cache, tally] of tallies) {
          this.set({ cache }, ratio(tally.hits, tally.misses));
          hits += tally.hits;
          misses += tally.misses;
        }
        this.set({ cache: 'all' }, ratio(hits, misses));
      },
    });
  }

  cacheLookup(cache: string, hit: boolean): void {
    this.cacheRequests.inc({ cache, result: hit ? 'hit' : 'miss' });
    let tally = this.tallies.get(cache);
    if (!tally) this.tallies.set(cache, (tally = { hits: 0, misses: 0 }));
    if (hit) tally.hits += 1;
    else tally.misses += 1;
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const ratio = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses));
