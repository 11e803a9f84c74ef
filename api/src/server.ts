import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { RedisPresenceStore, RedisRevokedSessions } from '@concord/registry';
import { GuildAccess, GuildData, guildKeys } from './access';
import { createApiApp, type ApiDeps } from './app';
import { CachedLoader, MemoryCache, RedisCache, type Cache } from './cache';
import type { ApiConfig } from './config';
import { openDatabase, type OpenedDatabase } from './db';
import { VoiceGrantIssuer } from './grants';
import { channelVoicePolicy, type PresenceReader } from './guild';
import { buildIdentity } from './identity';
import { loadSigningKeys, type SigningKeys } from './keys';
import { ApiMetrics, type ApiMetricsOptions } from './metrics';
import { ApiRateLimits, DEFAULT_RATE_LIMITS, type RateLimitRules } from './rate-limits';
import { InProcessRealtimePublisher, RedisRealtimePublisher, type RealtimePublisher } from './realtime';
import { SESSION_CACHE_TTL_SECONDS, SessionService, SessionStore } from './sessions';
import { PasskeyRelyingParty, SecretBox, TwoFactorService, TwoFactorStore } from './two-factor';
import { PgUserStore } from './users-pg';

/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000;

/** What the process hosting the API brings along (all optional). */
export interface ApiDepsOptions {
  /**
   * Where real-time events go. The embedded launcher passes an InProcessRealtimePublisher it
   * attaches to its signaling. Default: Redis with REDIS_URL, else an in-process publisher with
   * no signaling attached (events go nowhere).
   */
  realtime?: RealtimePublisher;
  /** Presence for member lists (the launcher's presence store). Default: Redis's with REDIS_URL, else none. */
  presence?: PresenceReader;
  /** Rate limit rules (tests); the auth rule defaults to AUTH_RATE_LIMIT per minute. */
  rateLimitRules?: Partial<RateLimitRules>;
  metrics?: ApiMetricsOptions;
}

export interface BuiltApiDeps extends ApiDeps {
  keys: SigningKeys;
  database: OpenedDatabase;
  /** Closes what buildApiDeps opened (database, Redis clients, Firebase); not a publisher passed in. Idempotent. */
  close(): Promise<void>;
}

/**
 * The API's dependencies as configured: PostgreSQL (DATABASE_URL, else embedded PGlite in the data
 * dir) for users and everything else; Redis (REDIS_URL) for the cache, rate limits and real-time
 * publishing, or the same in this process without it.
 */
export async function buildApiDeps(config: ApiConfig, logger: Logger, options: ApiDepsOptions = {}): Promise<BuiltApiDeps> {
  const keys = await loadSigningKeys(config);
  const metrics = new ApiMetrics(options.metrics);
  const database = await openDatabase({
    ...(config.databaseUrl && { databaseUrl: config.databaseUrl }),
    dataDir: config.dataDir,
    logger,
    pool: { observeQuery: (sql, seconds, ok) => metrics.dbQuery(sql, seconds, ok) },
  });
  metrics.observePool(() => database.db.poolStats());
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const close = async () => {
    const errors: unknown[] = [];
    // Last opened, first closed: the database goes last.
    for (const closer of closers.splice(0).reverse()) await closer().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw errors[0];
  };
  try {
    const users = new PgUserStore(database.db);
    const keyPrefix = config.redisKeyPrefix;
    const cache: Cache = config.redisUrl ? new RedisCache(config.redisUrl, { keyPrefix }) : new MemoryCache();
    closers.push(() => cache.close());
    const guild = new GuildData(database.db, new CachedLoader(cache, metrics, logger));
    const access = new GuildAccess(guild);
    let realtime = options.realtime;
    if (!realtime) {
      const own = config.redisUrl ? new RedisRealtimePublisher(config.redisUrl, { keyPrefix }) : new InProcessRealtimePublisher();
      closers.push(() => own.close());
      realtime = own;
    }
    // In a cluster member lists read presence from the store every signaling process keeps it in.
    let presence = options.presence;
    if (!presence && config.redisUrl) {
      const own = new RedisPresenceStore(config.redisUrl, { keyPrefix });
      closers.push(() => own.close());
      presence = own;
    }
    // In a cluster signaling reads revocations from Redis; in one process it asks sessionService.
    const recorder = config.redisUrl ? new RedisRevokedSessions(config.redisUrl, { keyPrefix }) : undefined;
    if (recorder) closers.push(() => recorder.close());
    const sessionService = new SessionService({
      store: new SessionStore(database.db),
      loader: new CachedLoader(cache, metrics, logger, SESSION_CACHE_TTL_SECONDS),
      cache,
      realtime,
      ...(recorder && { recorder }),
      logger,
    });
    const identity = buildIdentity(config, keys, users, sessionService, logger);
    closers.push(() => identity.close());
    const rules: RateLimitRules = { ...DEFAULT_RATE_LIMITS, auth: { limit: config.authAttemptsPerMinute, windowMs: 60_000 }, ...config.rateLimits, ...options.rateLimitRules };
    const onRefusal = (rule: string) => metrics.rateLimitRefused(rule);
    const rateLimits = config.redisUrl ? await ApiRateLimits.redis(config.redisUrl, { keyPrefix, rules, logger, onRefusal }) : ApiRateLimits.inMemory(rules, onRefusal);
    closers.push(() => rateLimits.close());
    const twoFactorStore = new TwoFactorStore(database.db);
    const twoFactor = new TwoFactorService({
      store: twoFactorStore,
      box: config.twoFactor.secretKey ? SecretBox.fromKey(config.twoFactor.secretKey) : SecretBox.derivedFrom(keys.privateKey),
      passkeys: new PasskeyRelyingParty(twoFactorStore, config.twoFactor),
      keys,
      failures: rateLimits.secondFactorFailures,
      failureLimit: rules.secondFactorFailure.limit,
      enabled: (userId) => guild.twoFactor(userId),
      changed: (userId) => guild.invalidate([guildKeys.twoFactor(userId)]),
    });
    return {
      keys,
      database,
      users,
      sessions: identity.sessions,
      sessionService,
      twoFactor,
      identity: identity.identity,
      grants: new VoiceGrantIssuer(keys, config.grantTtlSeconds, channelVoicePolicy(access), config.turn),
      jwks: keys.jwks,
      authLimiter: rateLimits.auth,
      logger,
      db: database.db,
      access,
      guild,
      realtime,
      metrics,
      rateLimits,
      serverCaps: config.serverCaps,
      ...(presence && { presence }),
      ...(config.shell.metricsToken && { metricsToken: config.shell.metricsToken }),
      clientConfig: {
        firebase:
          config.firebaseProjectId && config.firebaseWebApiKey
            ? {
                apiKey: config.firebaseWebApiKey,
                projectId: config.firebaseProjectId,
                authDomain: `${config.firebaseProjectId}.firebaseapp.com`,
                ...(config.firebaseAuthEmulatorHost && { emulatorUrl: `http://${config.firebaseAuthEmulatorHost}` }),
              }
            : null,
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

export interface RunningApi {
  /** e.g. http://127.0.0.1:3001 */
  url: string;
  keys: SigningKeys;
  deps: BuiltApiDeps;
  /** Stops accepting connections, waits for open ones, then closes the database and Redis clients. Idempotent. */
  close(): Promise<void>;
}

export async function startApi(config: ApiConfig, logger: Logger = pino({ level: config.shell.logLevel }), options: ApiDepsOptions = {}): Promise<RunningApi> {
  const deps = await buildApiDeps(config, logger, options);
  const app = createApiApp(deps);
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  const server = createServer(app);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await deps.close().catch(() => undefined);
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      });
      await deps.close();
    })());
  return { url, keys: deps.keys, deps, close };
}
