import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from './database';
import { loadMigrations, migrate, MigrationError, MIGRATIONS_DIR } from './migrate';
import { openDatabase } from './open';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';

let testDb: TestDatabase;
let schemas = 0;
const pools: Database[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  await testDb?.drop();
});

/**
 * A fresh, empty schema of the test database (cheaper than a database each): its URL puts it
 * first on the search_path, so migrations create their tables there.
 */
async function freshSchema(): Promise<{ url: string; db: Database }> {
  const schema = `scenario_${(schemas += 1)}`;
  const url = new URL(testDb.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const db = pool(url.toString());
  await db.query(`CREATE SCHEMA ${schema}`);
  return { url: url.toString(), db };
}

function pool(url: string): Database {
  const db = new Database({ connectionString: url, poolSize: 3 });
  pools.push(db);
  return db;
}

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'concord-migrations-'));
  dirs.push(dir);
  await Promise.all(Object.entries(files).map(([file, sql]) => writeFile(path.join(dir, file), sql)));
  return dir;
}

const appliedFiles = async (db: Database) => (await db.query<{ file: string }>('SELECT file FROM schema_migrations ORDER BY version')).rows.map((r) => r.file);

describe('migrate', () => {
  it('applies the real migrations once; a second run does nothing', async () => {
    const { db } = await freshSchema();
    const files = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort();
    expect(files[0]).toBe('0001_core.sql');
    expect(await migrate(db)).toEqual({ applied: files });
    expect(await migrate(db)).toEqual({ applied: [] });
    expect(await appliedFiles(db)).toEqual(files);
    const tables = (await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")).rows.map((r) => r.tablename);
    expect(tables).toEqual(
      [
        'bans',
        'channels',
        'invites',
        'member_roles',
        'members',
        'messages',
        'permission_overwrites',
        'reactions',
        'roles',
        'schema_migrations',
        'servers',
        'sessions',
        'user_passkeys',
        'user_recovery_codes',
        'user_totp',
        'users',
        'webauthn_challenges',
      ],
    );
  });

  it('applies each file exactly once when two instances start together', async () => {
    const { url, db } = await freshSchema();
    const other = pool(url);
    // Not idempotent on purpose: a second application would add a second row.
    const dir = await migrationsDir({
      '0001_first.sql': 'CREATE TABLE runs (file text NOT NULL); INSERT INTO runs VALUES (\'0001\'); SELECT pg_sleep(0.3);',
      '0002_second.sql': "INSERT INTO runs VALUES ('0002'); SELECT pg_sleep(0.1);",
    });
    const [a, b] = await Promise.all([migrate(db, { dir }), migrate(other, { dir })]);
    expect([...a.applied, ...b.applied].sort()).toEqual(['0001_first.sql', '0002_second.sql']);
    expect((await db.query('SELECT file FROM runs ORDER BY file')).rows).toEqual([{ file: '0001' }, { file: '0002' }]);

    // Also the real schema, from two pools at once.
    const real = await freshSchema();
    const results = await Promise.all([migrate(real.db), migrate(pool(real.url)), migrate(real.db)]);
    expect(results.flatMap((r) => r.applied)).toEqual((await loadMigrations()).map((m) => m.file));
  });

  it('refuses to run when an applied migration was changed, and applies nothing', async () => {
    const { db } = await freshSchema();
    const dir = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);' });
    await migrate(db, { dir });
    await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);');
    await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE b (id int);');
    const error = await migrate(db, { dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/0001_a\.sql was changed after it was applied/);
    expect(await appliedFiles(db)).toEqual(['0001_a.sql']);
    expect(await db.maybeOne("SELECT to_regclass('b') AS b")).toEqual({ b: null });

    // Line endings alone are not a change.
    await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);'.replace(/;/, ';\r\n'));
    const crlf = await loadMigrations(dir);
    await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);\n');
    expect(crlf[0]!.checksum).toBe((await loadMigrations(dir))[0]!.checksum);
  });

  it('rolls a failing migration back entirely and names it', async () => {
    const { db } = await freshSchema();
    const dir = await migrationsDir({
      '0001_ok.sql': 'CREATE TABLE ok (id int);',
      '0002_broken.sql': 'CREATE TABLE half (id int); SELECT no_such_function();',
    });
    await expect(migrate(db, { dir })).rejects.toThrow(/0002_broken\.sql failed: function no_such_function\(\) does not exist/);
    expect(await appliedFiles(db)).toEqual(['0001_ok.sql']);
    expect(await db.one("SELECT to_regclass('half') AS half")).toEqual({ half: null });
  });

  it('refuses a database with an applied migration we do not have, unless it is newer than ours', async () => {
    const { db } = await freshSchema();
    const full = await migrationsDir({ '0001_a.sql': 'SELECT 1;', '0002_b.sql': 'SELECT 2;', '0003_c.sql': 'SELECT 3;' });
    await migrate(db, { dir: full });
    const older = await migrationsDir({ '0001_a.sql': 'SELECT 1;', '0002_b.sql': 'SELECT 2;' });
    expect(await migrate(db, { dir: older })).toEqual({ applied: [] });
    const gap = await migrationsDir({ '0001_a.sql': 'SELECT 1;', '0003_c.sql': 'SELECT 3;' });
    await expect(migrate(db, { dir: gap })).rejects.toThrow(/0002_b\.sql applied, which is not in/);
  });

  it('rejects badly named and duplicate migration files', async () => {
    await expect(loadMigrations(await migrationsDir({ '1_a.sql': '' }))).rejects.toThrow(/NNNN_name\.sql/);
    await expect(loadMigrations(await migrationsDir({ '0001_a.sql': '', '0001_b.sql': '' }))).rejects.toThrow(/same version/);
  });

  it('openDatabase with a DATABASE_URL connects and migrates', async () => {
    const { url } = await freshSchema();
    const opened = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent' });
    try {
      expect(opened.kind).toBe('postgres');
      expect(await appliedFiles(opened.db)).toEqual((await loadMigrations()).map((m) => m.file));
    } finally {
      await opened.close();
    }
  });
});
