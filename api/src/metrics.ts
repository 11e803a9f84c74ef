import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ApiMetricsOptions {
  /**
   * Where the metrics go. Default: a registry of their own (not prom-client's global one, so
   * several API instances in one process — tests, the embedded launcher — never share counters)
   * that also collects the process's default metrics. A process hosting several services passes
   * one shared registry instead.
   */
  registry?: Registry;
}

/** What the pool metrics read from the database's connection pool. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Sign-in routes and the result each answer status stands for. */
const SIGN_IN_ROUTES: Record<string, string> = { '/api/auth/local/signin': 'local', '/api/auth/firebase/session': 'firebase' };
const SIGN_IN_RESULTS: Record<number, string> = { 200: 'ok', 400: 'bad_request', 401: 'invalid_credentials', 429: 'rate_limited' };

/** Label of requests no route matched: their paths are the client's to choose, so never a label. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * The API's Prometheus metrics: HTTP requests by route template, method and status, sign-ins,
 * messages, rate-limit refusals, the cache, and the database pool and query times. Served by the
 * service shell's /metrics (and GET /api/metrics).
 */
export class ApiMetrics {
  readonly registry: Registry;

  /** Lookups per cache (what is cached: roles, channels, …) and result (hit or miss). */
  readonly cacheRequests: Counter<'cache' | 'result'>;
  /** Cache operations that failed (Redis away); the request went on without the cache. */
  readonly cacheErrors: Counter<'operation'>;
  readonly #httpRequests: Histogram<'route' | 'method' | 'status'>;
  readonly #signIns: Counter<'method' | 'result'>;
  readonly #messagesCreated: Counter;
  readonly #rateLimitRefusals: Counter<'rule'>;
  readonly #dbQueries: Histogram<'operation' | 'result'>;
  #pool: (() => PoolStats) | undefined;

  private readonly tallies = new Map<string, { hits: number; misses: number }>();

  constructor(options: ApiMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    if (!options.registry) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.cacheRequests = new Counter({
      name: 'concord_cache_requests_total',
      help: 'Cache lookups by cached data and result (hit or miss)',
      labelNames: ['cache', 'result'],
      registers,
    });
    this.cacheErrors = new Counter({
      name: 'concord_cache_errors_total',
      help: 'Cache operations that failed (the request fell back to the database)',
      labelNames: ['operation'],
      registers,
    });
    const tallies = this.tallies;
    new Gauge({
      name: 'concord_cache_hit_ratio',
      help: 'Share of cache lookups answered from the cache since start, per cached data and over all ("all")',
      labelNames: ['cache'],
      registers,
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
    this.#httpRequests = new Histogram({
      name: 'concord_api_http_request_duration_seconds',
      help: 'HTTP requests by route template (unmatched: no route), method and status, from arrival to the last byte sent',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#signIns = new Counter({
      name: 'concord_api_sign_ins_total',
      help: 'Sign-ins (local password, Firebase token exchange) by result: ok, invalid_credentials, rate_limited, bad_request, error',
      labelNames: ['method', 'result'],
      registers,
    });
    this.#messagesCreated = new Counter({ name: 'concord_api_messages_created_total', help: 'Chat messages posted (a retried send counts once)', registers });
    this.#rateLimitRefusals = new Counter({
      name: 'concord_api_rate_limit_refusals_total',
      help: 'Attempts refused by a rate limit, by rule (message-user, auth, duplicate, …)',
      labelNames: ['rule'],
      registers,
    });
    this.#dbQueries = new Histogram({
      name: 'concord_api_db_query_duration_seconds',
      help: 'Database statements by operation (select, insert, update, delete, other) and result (ok, error)',
      labelNames: ['operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    const pool = () => this.#pool?.();
    new Gauge({
      name: 'concord_api_db_pool_connections',
      help: 'Database pool connections by state: in_use (lent to a request) or idle',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = pool();
        if (!stats) return;
        this.set({ state: 'in_use' }, stats.total - stats.idle);
        this.set({ state: 'idle' }, stats.idle);
      },
    });
    new Gauge({
      name: 'concord_api_db_pool_waiting_requests',
      help: 'Requests waiting for a database connection (every connection in use)',
      registers,
      collect() {
        const stats = pool();
        if (stats) this.set(stats.waiting);
      },
    });
    this.initialSeries();
  }

  cacheLookup(cache: string, hit: boolean): void {
    this.cacheRequests.inc({ cache, result: hit ? 'hit' : 'miss' });
    let tally = this.tallies.get(cache);
    if (!tally) this.tallies.set(cache, (tally = { hits: 0, misses: 0 }));
    if (hit) tally.hits += 1;
    else tally.misses += 1;
  }

  /** The pool the connection gauges read. */
  observePool(stats: () => PoolStats): void {
    this.#pool = stats;
  }

  /** One database statement that took `seconds`. */
  dbQuery(sql: string, seconds: number, ok: boolean): void {
    this.#dbQueries.observe({ operation: operationOf(sql), result: ok ? 'ok' : 'error' }, seconds);
  }

  messageCreated(): void {
    this.#messagesCreated.inc();
  }

  rateLimitRefused(rule: string): void {
    this.#rateLimitRefusals.inc({ rule });
  }

  /**
   * Times every request; its route is the template the route table records in
   * `res.locals.route` (e.g. /api/servers/:serverId), so ids never become labels.
   */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const startedAt = performance.now();
      res.once('finish', () => {
        const route = typeof res.locals.route === 'string' ? res.locals.route : UNMATCHED_ROUTE;
        const status = res.statusCode;
        this.#httpRequests.observe({ route, method: req.method, status: String(status) }, (performance.now() - startedAt) / 1000);
        const signIn = SIGN_IN_ROUTES[route];
        if (signIn) this.#signIns.inc({ method: signIn, result: SIGN_IN_RESULTS[status] ?? 'error' });
      });
      next();
    };
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Series an operator charts from the start exist before the first event. */
  private initialSeries(): void {
    this.#messagesCreated.inc(0);
    for (const method of Object.values(SIGN_IN_ROUTES)) this.#signIns.inc({ method, result: 'ok' }, 0);
  }
}

const ratio = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses));

const OPERATIONS = new Set(['select', 'insert', 'update', 'delete']);

/** The statement's leading keyword when it is one of the four; else `other` (BEGIN, WITH, DDL…). */
function operationOf(sql: string): string {
  const keyword = /^\s*([a-z]+)/i.exec(sql)?.[1]?.toLowerCase() ?? '';
  return OPERATIONS.has(keyword) ? keyword : 'other';
}
