import { createServer, type Server, type Socket } from 'node:net';
import { ProtocolError } from '@concord/protocol';
import { Database } from './database';
import { isUniqueViolation, pgErrorCode } from './errors';
import { freePort } from '@concord/testkit/src/ports';
import { createTestDatabase, createThrowawayPostgres, type TestDatabase, type ThrowawayPostgres } from '@concord/testkit/src/postgres';

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = new Database({ connectionString: testDb.url, poolSize: 4 });
  await db.query('CREATE TABLE counters (name text PRIMARY KEY, value int8 NOT NULL)');
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

/** The ProtocolError code of a rejected promise, and how long it took to reject. */
async function failure(promise: Promise<unknown>): Promise<{ code: string | undefined; ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { code: error instanceof ProtocolError ? error.code : undefined, ms: Date.now() - started, error };
  }
  throw new Error('expected a rejection');
}

describe('Database queries', () => {
  it('runs parameterised queries with one / maybeOne', async () => {
    await db.query('INSERT INTO counters (name, value) VALUES ($1, $2)', ['a', 1]);
    expect(await db.one<{ value: number }>('SELECT value FROM counters WHERE name = $1', ['a'])).toEqual({ value: 1 });
    expect(await db.maybeOne('SELECT value FROM counters WHERE name = $1', ['none'])).toBeNull();
    await expect(db.one('SELECT 1 WHERE false')).rejects.toThrow(/exactly one row, got 0/);
    await expect(db.maybeOne('SELECT generate_series(1, 2)')).rejects.toThrow(/at most one row, got 2/);
    const update = await db.query("UPDATE counters SET value = value + 1 WHERE name = 'a'");
    expect(update.rowCount).toBe(1);
  });

  it('parses int8 (bigint, count(*), int8[]) as numbers and refuses to round', async () => {
    const row = await db.one<{ big: number; count: number; list: number[] }>(
      'SELECT 9007199254740991::int8 AS big, count(*) AS count, ARRAY[1, -2, NULL]::int8[] AS list FROM generate_series(1, 3)',
    );
    expect(row).toEqual({ big: Number.MAX_SAFE_INTEGER, count: 3, list: [1, -2, null] });
    await expect(db.query('SELECT 9007199254740992::int8')).rejects.toThrow(RangeError);
    expect(await db.one('SELECT 1 AS ok')).toEqual({ ok: 1 }); // the pool is fine afterwards
  });

  it('passes SQL errors through unchanged, with their SQLSTATE and constraint', async () => {
    const duplicate = await failure(db.query("INSERT INTO counters (name, value) VALUES ('a', 0)"));
    expect(duplicate.code).toBeUndefined();
    expect(isUniqueViolation(duplicate.error, 'counters_pkey')).toBe(true);
    expect(pgErrorCode((await failure(db.query('SELEC 1'))).error)).toBe('42601');
  });

  it('maps statement_timeout to TIMEOUT', async () => {
    const short = new Database({ connectionString: testDb.url, poolSize: 1, statementTimeoutMs: 100 });
    try {
      const { code, ms } = await failure(short.query('SELECT pg_sleep(2)'));
      expect(code).toBe('TIMEOUT');
      expect(ms).toBeLessThan(1_000);
      expect(await short.one('SELECT 2 AS ok')).toEqual({ ok: 2 });
    } finally {
      await short.close();
    }
  });
});

describe('Database transactions', () => {
  it('commits, and rolls back when the function throws', async () => {
    await db.transaction((tx) => tx.query("INSERT INTO counters VALUES ('t1', 1)"));
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO counters VALUES ('t2', 1)");
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const names = (await db.query<{ name: string }>("SELECT name FROM counters WHERE name LIKE 't%' ORDER BY name")).rows.map((r) => r.name);
    expect(names).toEqual(['t1']);
  });

  it('does not report a commit when a failed statement was caught inside', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO counters VALUES ('t3', 1)");
        await tx.query("INSERT INTO counters VALUES ('t3', 1)").catch(() => undefined);
      }),
    ).rejects.toThrow(/rolled back/);
    expect(await db.maybeOne("SELECT 1 FROM counters WHERE name = 't3'")).toBeNull();
  });

  it('refuses queries on a transaction that has ended', async () => {
    let leaked: Parameters<Parameters<Database['transaction']>[0]>[0] | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toThrow(/already ended/);
  });

  it('retries serialization failures a bounded number of times', async () => {
    let attempts = 0;
    const raise = "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$";
    const result = await db.transaction(async (tx) => {
      attempts += 1;
      if (attempts === 1) await tx.query(raise);
      return 'done';
    });
    expect([result, attempts]).toEqual(['done', 2]);

    attempts = 0;
    const { error } = await failure(
      db.transaction(async (tx) => {
        attempts += 1;
        await tx.query(raise);
      }, { maxAttempts: 3 }),
    );
    expect(pgErrorCode(error)).toBe('40001');
    expect(attempts).toBe(3);
  });

  it('retries the loser of a real deadlock, so both transactions complete', async () => {
    await db.query("INSERT INTO counters VALUES ('d1', 0), ('d2', 0)");
    let bothLocked!: () => void;
    let locked = 0;
    const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
    let attempts = 0;
    const bump = (first: string, second: string) =>
      db.transaction(async (tx) => {
        attempts += 1;
        await tx.query('UPDATE counters SET value = value + 1 WHERE name = $1', [first]);
        if (++locked === 2) bothLocked();
        await barrier;
        await tx.query('UPDATE counters SET value = value + 1 WHERE name = $1', [second]);
      });
    await Promise.all([bump('d1', 'd2'), bump('d2', 'd1')]);
    expect(attempts).toBe(3);
    const rows = (await db.query<{ value: number }>("SELECT value FROM counters WHERE name IN ('d1', 'd2')")).rows;
    expect(rows.map((r) => r.value)).toEqual([2, 2]);
  });

  it('supports isolation levels and read-only transactions', async () => {
    const level = await db.transaction((tx) => tx.one<{ transaction_isolation: string }>('SHOW transaction_isolation'), { isolation: 'serializable', readOnly: true });
    expect(level.transaction_isolation).toBe('serializable');
    const { error } = await failure(db.transaction((tx) => tx.query("INSERT INTO counters VALUES ('ro', 1)"), { readOnly: true }));
    expect(pgErrorCode(error)).toBe('25006');
  });
});

describe('Database when PostgreSQL is down', () => {
  let server: ThrowawayPostgres;
  let silent: Server | undefined;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await createThrowawayPostgres();
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await server?.destroy();
  });

  it('answers UNAVAILABLE in under 2 s and recovers by itself when it is back', async () => {
    const down = new Database({ connectionString: server.url, poolSize: 3 });
    try {
      // Warm the pool, then leave a statement running while the server stops.
      await Promise.all([1, 2, 3].map(() => down.query('SELECT pg_sleep(0.05)')));
      const inFlight = failure(down.query('SELECT pg_sleep(30)'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.stop();
      expect((await inFlight).code).toBe('UNAVAILABLE');

      for (const attempt of [down.query('SELECT 1'), down.one('SELECT 1'), down.transaction((tx) => tx.query('SELECT 1'))]) {
        const { code, ms, error } = await failure(attempt);
        expect(code).toBe('UNAVAILABLE');
        expect((error as Error).message).toBe('database unavailable');
        expect(ms).toBeLessThan(2_000);
      }

      await server.start();
      expect(await down.one('SELECT 42 AS answer')).toEqual({ answer: 42 });
      expect(await down.transaction((tx) => tx.one('SELECT 43 AS answer'))).toEqual({ answer: 43 });
    } finally {
      await down.close();
    }
  });

  it('answers UNAVAILABLE when a server accepts the connection but never speaks', async () => {
    silent = createServer((socket) => sockets.push(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => silent!.listen(port, '127.0.0.1', resolve));
    const mute = new Database({ connectionString: `postgres://postgres@127.0.0.1:${port}/x`, connectTimeoutMs: 300 });
    try {
      const { code, ms } = await failure(mute.query('SELECT 1'));
      expect(code).toBe('UNAVAILABLE');
      expect(ms).toBeLessThan(1_500);
    } finally {
      await mute.close();
    }
  });

  it('answers UNAVAILABLE after close', async () => {
    const closed = new Database({ connectionString: server.url });
    await closed.close();
    expect((await failure(closed.query('SELECT 1'))).code).toBe('UNAVAILABLE');
  });
});
