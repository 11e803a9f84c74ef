import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/**
 * Makes concurrent "first" requests really concurrent: holds a lock that blocks INSERTs into
 * `table` (SELECTs still run), lets `run` start its requests, waits until `waiters` INSERTs are
 * queued on the lock, then releases them all at once. Without it, a pool that is still opening
 * connections quietly serialises the requests and a race test passes without any race.
 */
export async function raceInserts<T>(databaseUrl: string, table: string, waiters: number, run: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    // SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE lock of INSERT, not with SELECT's.
    await holder.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
    const result = run();
    result.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await holder.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted',
        [table],
      );
      if (rows[0]!.n >= waiters) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${waiters} INSERTs reached ${table} within 10 s`);
      await sleep(10);
    }
    await holder.query('COMMIT');
    return await result;
  } finally {
    await holder.end();
  }
}
