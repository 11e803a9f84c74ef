import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded';
import { isForeignKeyViolation } from './errors';
import { uuidv7 } from './ids';
import { loadMigrations, migrate } from './migrate';
import { openDatabase, type OpenedDatabase } from './open';

let dataDir: string;
const opened: OpenedDatabase[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-pglite-'));
});

afterAll(async () => {
  for (const database of opened) await database.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function open(): Promise<OpenedDatabase> {
  const database = await openDatabase({ dataDir });
  opened.push(database);
  return database;
}

it('refuses a data directory another live process holds', async () => {
  const busy = path.join(dataDir, 'busy');
  await mkdir(path.join(busy, 'pglite'), { recursive: true });
  await writeFile(path.join(busy, 'pglite', 'pglite.lock'), `${hostname()} ${process.ppid}\n`);
  await expect(startEmbeddedPostgres(busy)).rejects.toThrow(/is in use by process/);
});

// One smoke test: PGlite's first start creates its cluster (several seconds) and takes ~700 MB.
it('runs the same pg code on embedded PGlite, and keeps the data across restarts', async () => {
  // A lock left by a crashed process (a pid that cannot exist) is taken over.
  await mkdir(path.join(dataDir, 'pglite'), { recursive: true });
  await writeFile(path.join(dataDir, 'pglite', 'pglite.lock'), `${hostname()} ${2 ** 30}\n`);
  const first = await open();
  expect(first.kind).toBe('embedded');
  const { db } = first;
  expect(await migrate(db)).toEqual({ applied: [] }); // openDatabase applied them

  const alice = uuidv7();
  const guild = uuidv7();
  const channel = uuidv7();
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, $2, $2, $3)', [alice, 'alice', 'hash']);
    await tx.query('INSERT INTO servers (id, name, owner_id) VALUES ($1, $2, $3)', [guild, 'guild', alice]);
    await tx.query("INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', 'general')", [channel, guild]);
  });
  // Concurrent statements over several pooled connections, one of them in a transaction.
  await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => db.query('INSERT INTO messages (channel_id, id, author_id, content) VALUES ($1, $2, $3, $4)', [channel, uuidv7(), alice, `m${i}`])),
    db.transaction((tx) => tx.query('INSERT INTO messages (channel_id, id, author_id, content) VALUES ($1, $2, $3, $4)', [channel, uuidv7(), alice, 'tx'])),
  ]);
  expect((await db.one<{ n: number }>('SELECT count(*) AS n FROM messages WHERE channel_id = $1', [channel])).n).toBe(6);

  // The same second data directory cannot be opened twice (PGlite itself would allow it and corrupt it).
  await expect(startEmbeddedPostgres(dataDir)).rejects.toThrow(/already open/);

  await db.query('DELETE FROM channels WHERE id = $1', [channel]);
  const orphan = db.query('INSERT INTO messages (channel_id, id, author_id, content) VALUES ($1, $2, $3, $4)', [channel, uuidv7(), alice, 'late']);
  expect(isForeignKeyViolation(await orphan.catch((e: unknown) => e), 'messages_channel_fk')).toBe(true);
  await first.close();

  const second = await open();
  expect(await second.db.one('SELECT username FROM users WHERE lower(username) = lower($1)', ['ALICE'])).toEqual({ username: 'alice' });
  expect(await second.db.one<{ n: number }>('SELECT count(*) AS n FROM schema_migrations')).toEqual({ n: (await loadMigrations()).length });
  await second.close();
});

// PGlite has one session for all connections: each must have it alone for a whole query or transaction.
it('gives each connection the one PGlite session alone for a whole query or transaction', async () => {
  const embedded = await startEmbeddedPostgres(path.join(dataDir, 'sessions'));
  const clients: pg.Client[] = [];
  const connect = async () => {
    const client = new pg.Client({ connectionString: embedded.url });
    await client.connect();
    clients.push(client);
    return client;
  };
  try {
    const [writer, reader, third] = [await connect(), await connect(), await connect()];
    await writer.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');

    // A transaction's uncommitted rows are invisible to the others, who wait for it rather than run inside it.
    await writer.query('BEGIN');
    await writer.query('INSERT INTO notes VALUES ($1, $2)', [1, 'uncommitted']);
    let readerDone = false;
    const read = reader.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE id = $1', [1]).then((result) => {
      readerDone = true;
      return result.rows[0]!.n;
    });
    await sleep(200);
    expect(readerDone).toBe(false);
    await writer.query('ROLLBACK');
    expect(await read).toBe(0);

    // Extended-protocol queries of many connections at once each get their own rows.
    await writer.query('INSERT INTO notes SELECT i, $1 || i FROM generate_series(1, 200) AS i', ['note ']);
    const pool = new pg.Pool({ connectionString: embedded.url, max: 8 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 150 }, (_, i) => {
          const id = 1 + ((i * 37) % 200);
          return pool.query<{ id: number; body: string }>('SELECT id, body FROM notes WHERE id = $1 AND body = $2', [id, `note ${id}`]).then((result) => [id, result.rows]);
        }),
      );
      for (const [id, rows] of answers) expect(rows).toEqual([{ id, body: `note ${id}` }]);
    } finally {
      await pool.end();
    }

    // A connection that dies inside a transaction has it rolled back, and the next one starts clean.
    third.on('error', () => undefined);
    await third.query('BEGIN');
    await third.query('DELETE FROM notes');
    const waiting = reader.query<{ n: number }>('SELECT count(*)::int AS n FROM notes');
    (third as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0]!.n).toBe(200);
    expect((await reader.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  } finally {
    for (const client of clients) await client.end().catch(() => undefined);
    await embedded.close();
  }
});
