import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database, Queryable } from './database';
import { isConnectionError, isRetryableTransactionError } from './errors';

/** api/migrations, next to src/. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

/** `0001_core.sql`: a four-digit version, then a name. */
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Any fixed 64-bit number, the same in every API process: the key of the migrations lock. */
const MIGRATION_LOCK_KEY = 7_208_431_550_113_003n;

export interface Migration {
  version: number;
  /** The file name, e.g. 0001_core.sql. */
  file: string;
  sql: string;
  /** sha256 of the file (line endings normalised), recorded when it is applied. */
  checksum: string;
}

export interface MigrateOptions {
  /** Default: MIGRATIONS_DIR. */
  dir?: string;
}

export interface MigrateResult {
  /** Files this call applied, in order; empty when the database was up to date. */
  applied: string[];
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(`${path.join(dir, file)}: migration files are named NNNN_name.sql (lower case, digits, _)`);
    const version = Number(match[1]);
    const previous = migrations[migrations.length - 1];
    if (previous?.version === version) throw new MigrationError(`${previous.file} and ${file} have the same version`);
    // A checkout with CRLF line endings must not look like an edited migration.
    const sql = (await readFile(path.join(dir, file), 'utf8')).replace(/\r\n/g, '\n');
    migrations.push({ version, file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

interface AppliedRow {
  version: number;
  file: string;
  checksum: string;
}

/**
 * Each step is a transaction that first takes a transaction-scoped advisory lock
 * (pg_advisory_xact_lock), so API instances starting together apply each file exactly once: the
 * second waits for the first's transaction, then finds the file recorded. The lock is released
 * with the transaction even if the process dies, and needs no session state, which matters under
 * PGlite, where every connection shares one backend session.
 */
const lock = (tx: Queryable) => tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);

/** Migrations may run long; the usual per-statement limit does not apply to them. */
const MIGRATION_TX = { statementTimeoutMs: 0 } as const;

function checkUnchanged(migration: Migration, applied: AppliedRow): void {
  if (applied.checksum !== migration.checksum) {
    throw new MigrationError(
      `migration ${migration.file} was changed after it was applied (recorded sha256 ${applied.checksum.slice(0, 12)}…, ` +
        `file now ${migration.checksum.slice(0, 12)}…): restore it and put the change in a new migration`,
    );
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in version order, each in its
 * own transaction. Fails without applying anything when an applied file was edited, or when the
 * database has an applied migration older than our newest that we do not have (a different
 * branch). Applied migrations newer than all of ours are accepted: a newer API version ran
 * first, as during a rolling upgrade, and must keep its schema backward compatible.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.dir);
  const applied = await db.transaction(async (tx) => {
    await lock(tx);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        file       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        duration_ms integer NOT NULL
      )`);
    return (await tx.query<AppliedRow>('SELECT version, file, checksum FROM schema_migrations ORDER BY version')).rows;
  }, MIGRATION_TX);

  const known = new Map(migrations.map((migration) => [migration.version, migration]));
  const newest = migrations[migrations.length - 1]?.version ?? 0;
  for (const row of applied) {
    const migration = known.get(row.version);
    if (migration) checkUnchanged(migration, row);
    else if (row.version < newest) throw new MigrationError(`the database has migration ${row.file} applied, which is not in ${options.dir ?? MIGRATIONS_DIR}`);
  }

  const done = new Set(applied.map((row) => row.version));
  const result: MigrateResult = { applied: [] };
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    const ran = await db.transaction(async (tx) => {
      await lock(tx);
      // Another instance may have applied it since we looked.
      const row = await tx.maybeOne<AppliedRow>('SELECT version, file, checksum FROM schema_migrations WHERE version = $1', [migration.version]);
      if (row) {
        checkUnchanged(migration, row);
        return false;
      }
      const started = Date.now();
      try {
        await tx.query(migration.sql);
      } catch (error) {
        if (isConnectionError(error) || isRetryableTransactionError(error)) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw Object.assign(new MigrationError(`migration ${migration.file} failed: ${reason}`), { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (version, file, checksum, duration_ms) VALUES ($1, $2, $3, $4)', [
        migration.version,
        migration.file,
        migration.checksum,
        Date.now() - started,
      ]);
      return true;
    }, MIGRATION_TX);
    if (ran) result.applied.push(migration.file);
  }
  return result;
}
