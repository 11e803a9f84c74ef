import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import { ProtocolError } from '@concord/protocol';
import { isConnectionError, isRetryableTransactionError, toProtocolError } from './errors';

export type Row = Record<string, unknown>;

export interface QueryResult<T> {
  rows: T[];
  /** Rows returned, or affected by an INSERT / UPDATE / DELETE. */
  rowCount: number;
}

/**
 * A statement PostgreSQL parses and plans once per connection rather than on every call (a named
 * prepared statement): for the few statements every request runs. `name` must be unique per text.
 */
export interface NamedStatement {
  name: string;
  text: string;
}

export type Sql = string | NamedStatement;

const textOf = (sql: Sql): string => (typeof sql === 'string' ? sql : sql.text);

/** What both the database and an open transaction offer, so repositories can take either. */
export interface Queryable {
  query<T = Row>(sql: Sql, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Exactly one row, or an error (a bug: use `maybeOne` where "none" is a legitimate answer). */
  one<T = Row>(sql: Sql, params?: readonly unknown[]): Promise<T>;
  /** The row, or null when there is none; more than one row is an error. */
  maybeOne<T = Row>(sql: Sql, params?: readonly unknown[]): Promise<T | null>;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  /** Default: read committed (PostgreSQL's default). */
  isolation?: IsolationLevel;
  readOnly?: boolean;
  /** statement_timeout for this transaction only; 0 disables it (migrations, batch jobs). */
  statementTimeoutMs?: number;
  /** Attempts in all when the transaction hits a serialization failure or deadlock. */
  maxAttempts?: number;
}

export interface DatabaseOptions {
  /** postgres://user@host:port/database */
  connectionString: string;
  /** Default 10 connections. */
  poolSize?: number;
  /**
   * Default 1000 ms: how long to wait for a connection (a new one, or a free one when all are
   * busy) before answering UNAVAILABLE. A stopped server refuses at once; this bounds the rest.
   */
  connectTimeoutMs?: number;
  /** Default 5000 ms; 0 disables. The server cancels longer statements (→ TIMEOUT). */
  statementTimeoutMs?: number;
  /** Default 30000 ms: idle connections are closed after this. */
  idleTimeoutMs?: number;
  /** Default 3: attempts per transaction on serialization failures and deadlocks. */
  maxTransactionAttempts?: number;
  /** Default concord-api; shows in pg_stat_activity. */
  applicationName?: string;
  /** Told of every statement: its SQL, how long it took and whether it succeeded (the metrics). */
  observeQuery?: (sql: string, seconds: number, ok: boolean) => void;
  /**
   * Default true: NamedStatements are prepared once per connection. Off for a server whose one
   * session several connections share (embedded PGlite), where a name prepared by one connection
   * would clash with another's.
   */
  namedStatements?: boolean;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * A reply later than statement_timeout plus this means the server (or the network to it) is not
 * answering at all; the connection is dropped and the caller gets UNAVAILABLE.
 */
const READ_TIMEOUT_GRACE_MS = 2_000;

/** Sessions stuck in an open transaction (a crashed request handler) release their locks. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;

/** int8 (ids of counts, permission bit sets) as a JS number; beyond 2^53 it fails rather than round. */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value ${text} is beyond JavaScript's safe integer range`);
  return value;
}

/** pg's own parsers, looked up by any oid (its typings only list the built-in ones). */
const builtinParser = pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => (value: string) => unknown;

const parseInt8Array = (text: string): unknown => {
  const convert = (value: unknown): unknown => (Array.isArray(value) ? value.map(convert) : typeof value === 'string' ? parseInt8(value) : value);
  return convert(builtinParser(INT8_ARRAY_OID, 'text')(text));
};

/** Per pool rather than `pg.types.setTypeParser`, which would change every pg user in the process. */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary' && oid === INT8_OID) return parseInt8;
    if (format !== 'binary' && oid === INT8_ARRAY_OID) return parseInt8Array;
    return builtinParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const ISOLATION: Record<IsolationLevel, string> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

function timeoutMs(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer number of milliseconds`);
  return value;
}

type Runner = <T>(sql: Sql, params: readonly unknown[] | undefined) => Promise<QueryResult<T>>;

function queryable(run: Runner): Queryable {
  return {
    query: (sql, params) => run(sql, params),
    async one<T>(sql: Sql, params?: readonly unknown[]): Promise<T> {
      const { rows } = await run<T>(sql, params);
      if (rows.length !== 1) throw new Error(`expected exactly one row, got ${rows.length}: ${textOf(sql)}`);
      return rows[0]!;
    },
    async maybeOne<T>(sql: Sql, params?: readonly unknown[]): Promise<T | null> {
      const { rows } = await run<T>(sql, params);
      if (rows.length > 1) throw new Error(`expected at most one row, got ${rows.length}: ${textOf(sql)}`);
      return rows[0] ?? null;
    },
  };
}

/**
 * The PostgreSQL connection pool of one API process.
 *
 * SQL errors (constraint violations, syntax) reach the caller as `pg` threw them, so repositories
 * can tell which constraint failed (see ./errors). A database that is down or unreachable gives
 * `ProtocolError('UNAVAILABLE')` promptly instead of a hang, and the pool needs no restart when it
 * comes back: broken connections are dropped and new ones are opened on demand.
 */
export class Database implements Queryable {
  private readonly pool: pg.Pool;
  private readonly statementTimeoutMs: number;
  private readonly maxTransactionAttempts: number;
  private readonly observeQuery: DatabaseOptions['observeQuery'];
  private readonly namedStatements: boolean;
  private closing: Promise<void> | undefined;

  readonly query: Queryable['query'];
  readonly one: Queryable['one'];
  readonly maybeOne: Queryable['maybeOne'];

  constructor(options: DatabaseOptions) {
    this.statementTimeoutMs = timeoutMs('statementTimeoutMs', options.statementTimeoutMs ?? 5_000);
    this.maxTransactionAttempts = Math.max(1, options.maxTransactionAttempts ?? 3);
    this.observeQuery = options.observeQuery;
    this.namedStatements = options.namedStatements ?? true;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: timeoutMs('connectTimeoutMs', options.connectTimeoutMs ?? 1_000),
      idleTimeoutMillis: timeoutMs('idleTimeoutMs', options.idleTimeoutMs ?? 30_000),
      ...(this.statementTimeoutMs > 0 && { statement_timeout: this.statementTimeoutMs }),
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      // Notice a silently dead server (no RST) on idle connections within minutes, not the OS default of 2 h.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: options.applicationName ?? 'concord-api',
      types: typeParsers,
    });
    // An idle connection the server closes (restart, admin shutdown) is reported here and dropped
    // by the pool; without a listener the 'error' event would crash the process.
    this.pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle database connection closed'));

    const { query, one, maybeOne } = queryable((sql, params) => this.withClient((client) => this.run(client, sql, params, this.statementTimeoutMs)));
    this.query = query;
    this.one = one;
    this.maybeOne = maybeOne;
  }

  /**
   * Runs `fn` in BEGIN … COMMIT on one connection; any error rolls back and is rethrown. On a
   * serialization failure (40001) or deadlock (40P01) the whole of `fn` runs again, up to
   * `maxAttempts` in all, so `fn` must not have effects outside the database it cannot repeat.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = Math.max(1, options.maxAttempts ?? this.maxTransactionAttempts);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.withClient((client) => this.runTransaction(client, fn, options));
      } catch (error) {
        if (attempt >= attempts || !isRetryableTransactionError(error)) throw error;
        await sleep(Math.round(Math.random() * 25 * attempt));
      }
    }
  }

  /** Resolves when the database answers; UNAVAILABLE otherwise. For readiness checks. */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** Connections open, idle among them, and requests waiting for one. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  /** Closes every connection once the ones in use are released. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.pool.end());
  }

  private async runTransaction<T>(client: pg.PoolClient, fn: (tx: Queryable) => Promise<T>, options: TransactionOptions): Promise<T> {
    const statementTimeout = options.statementTimeoutMs === undefined ? this.statementTimeoutMs : timeoutMs('statementTimeoutMs', options.statementTimeoutMs);
    let begin = 'BEGIN';
    if (options.isolation) begin += ` ISOLATION LEVEL ${ISOLATION[options.isolation]}`;
    if (options.readOnly) begin += ' READ ONLY';
    await this.run(client, begin, undefined, this.statementTimeoutMs);
    if (statementTimeout !== this.statementTimeoutMs) await this.run(client, `SET LOCAL statement_timeout = ${statementTimeout}`, undefined, this.statementTimeoutMs);

    let finished = false;
    const tx = queryable((sql, params) => {
      // A query through a transaction that has ended would run on a connection back in the pool.
      if (finished) return Promise.reject(new Error('query on a transaction that has already ended'));
      return this.run(client, sql, params, statementTimeout);
    });
    try {
      const result = await fn(tx);
      finished = true;
      const commit = await this.run(client, 'COMMIT', undefined, this.statementTimeoutMs);
      // COMMIT of a transaction in which a statement failed (and `fn` caught the error) is a
      // ROLLBACK; report it rather than let the caller believe its writes were kept.
      if ((commit as { command?: string }).command === 'ROLLBACK') throw new Error('transaction rolled back: a statement in it failed');
      return result;
    } catch (error) {
      finished = true;
      try {
        await this.run(client, 'ROLLBACK', undefined, this.statementTimeoutMs);
      } catch {
        // The connection is broken; withClient drops it.
      }
      throw error;
    }
  }

  private async run<T>(client: pg.PoolClient, statement: Sql, params: readonly unknown[] | undefined, statementTimeout: number): Promise<QueryResult<T> & { command?: string }> {
    const sql = textOf(statement);
    const config = {
      text: sql,
      ...(typeof statement !== 'string' && this.namedStatements && { name: statement.name }),
      ...(params && { values: params as unknown[] }),
      // Client-side backstop for a server that does not answer at all (statement_timeout needs a live server).
      ...(statementTimeout > 0 && { query_timeout: statementTimeout + READ_TIMEOUT_GRACE_MS }),
    } as pg.QueryConfig;
    const startedAt = performance.now();
    const timed = (ok: boolean) => this.observeQuery?.(sql, (performance.now() - startedAt) / 1000, ok);
    const raw = (await client.query(config).catch((error: unknown) => {
      timed(false);
      throw error;
    })) as pg.QueryResult | pg.QueryResult[];
    timed(true);
    // A multi-statement string (simple protocol, no params) yields one result per statement.
    const result = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    return { rows: (result?.rows ?? []) as T[], rowCount: result?.rowCount ?? 0, command: result?.command };
  }

  /** Borrows a connection for `fn`; one that broke meanwhile is destroyed, not returned to the pool. */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closing) throw new ProtocolError('UNAVAILABLE', 'database closed');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toProtocolError(error);
    }
    let broken = false;
    // The pool stops listening for errors on a connection while it is lent out; a server going
    // away between two statements of a transaction would otherwise be an unhandled 'error'.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (error) {
      if (isConnectionError(error)) broken = true;
      throw toProtocolError(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}
