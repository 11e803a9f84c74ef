import type { Logger } from 'pino';
import { Database, type DatabaseOptions } from './database';
import { startEmbeddedPostgres } from './embedded';
import { migrate } from './migrate';

export interface OpenDatabaseConfig {
  /** A PostgreSQL URL (DATABASE_URL). Unset: embedded PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** CONCORD_DATA_DIR; only the embedded database uses it. */
  dataDir: string;
  logger?: Pick<Logger, 'warn'>;
  /** Pool and timeout settings; the connection string comes from above. */
  pool?: Omit<DatabaseOptions, 'connectionString' | 'logger'>;
  /** Default: api/migrations. */
  migrationsDir?: string;
}

export interface OpenedDatabase {
  db: Database;
  /** Which database this is: a PostgreSQL server, or PGlite inside this process. */
  kind: 'postgres' | 'embedded';
  /** Closes the pool, then the embedded database if there is one. Idempotent. */
  close(): Promise<void>;
}

/**
 * Embedded settings: every statement queues behind the one running (PGlite has a single backend),
 * so waiting for a connection or a reply can take longer without anything being down; and that one
 * backend is every connection's, so statements are not prepared by name.
 */
const EMBEDDED_POOL: Omit<DatabaseOptions, 'connectionString'> = { poolSize: 8, connectTimeoutMs: 10_000, statementTimeoutMs: 30_000, namedStatements: false };

/** Connects (starting PGlite when there is no DATABASE_URL) and applies pending migrations. */
export async function openDatabase(config: OpenDatabaseConfig): Promise<OpenedDatabase> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  const db = new Database({
    ...(embedded && EMBEDDED_POOL),
    ...config.pool,
    connectionString: config.databaseUrl ?? embedded!.url,
    ...(config.logger && { logger: config.logger }),
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        await db.close();
      } finally {
        await embedded?.close();
      }
    })());
  try {
    await migrate(db, config.migrationsDir ? { dir: config.migrationsDir } : {});
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { db, kind: embedded ? 'embedded' : 'postgres', close };
}
