import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { raceInserts } from '@concord/testkit/src/insert-barrier';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { openDatabase, type OpenedDatabase } from './db';
import { UsernameTakenError } from './users';
import { PgUserStore } from './users-pg';

let testDb: TestDatabase | undefined;
let database: OpenedDatabase | undefined;
let dataDir: string;
let users: PgUserStore;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'concord-users-pg-'));
  testDb = await createTestDatabase();
  database = await openDatabase({ databaseUrl: testDb.url, dataDir });
  users = new PgUserStore(database.db);
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const countFirebaseRows = async (uid: string) =>
  (await database!.db.one<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE firebase_uid = $1', [uid])).n;

test('local accounts: created, found by id and by user name in any case, names unique regardless of case', async () => {
  const created = await users.create({ username: 'Alice', displayName: 'Alice A.', passwordHash: 'scrypt$hash' });
  expect(created).toMatchObject({ username: 'Alice', displayName: 'Alice A.', passwordHash: 'scrypt$hash' });
  expect(Math.abs(created.createdAt - Date.now())).toBeLessThan(60_000);
  expect(await users.findById(created.id)).toEqual(created);
  expect(await users.findByUsername('aLICE')).toEqual(created);
  await expect(users.create({ username: 'alice', displayName: 'Impostor', passwordHash: 'x' })).rejects.toBeInstanceOf(UsernameTakenError);
  expect(await users.findByUsername('bob')).toBeNull();
  // Ids come from bearer tokens: anything that is not a uuid is simply nobody.
  expect(await users.findById('not-a-uuid')).toBeNull();
  expect(await users.findById('00000000-0000-7000-8000-000000000000')).toBeNull();
});

test('a Firebase account is created once, keeps its first display name, and has no user name or password', async () => {
  const first = await users.ensureFirebaseUser({ uid: 'firebase-uid-1', displayName: 'Grace', avatarUrl: 'https://example.com/g.png' });
  expect(first).toMatchObject({ username: '', displayName: 'Grace', passwordHash: '' });
  const again = await users.ensureFirebaseUser({ uid: 'firebase-uid-1', displayName: 'Renamed at Google' });
  expect(again).toEqual(first);
  expect(await users.findById(first.id)).toEqual(first);
  expect(await users.findByUsername('')).toBeNull();
  const row = await database!.db.one('SELECT username, password_hash, avatar_url FROM users WHERE id = $1', [first.id]);
  expect(row).toEqual({ username: null, password_hash: null, avatar_url: 'https://example.com/g.png' });
});

test('ten concurrent first sign-ins of one Firebase account make one user', async () => {
  const uid = 'firebase-uid-concurrent';
  const results = await raceInserts(testDb!.url, 'users', 10, () =>
    Promise.all(Array.from({ length: 10 }, (_, i) => users.ensureFirebaseUser({ uid, displayName: `Racer ${i}` }))),
  );
  expect(new Set(results.map((user) => user.id)).size).toBe(1);
  expect(new Set(results.map((user) => user.displayName)).size).toBe(1);
  expect(await countFirebaseRows(uid)).toBe(1);
});
