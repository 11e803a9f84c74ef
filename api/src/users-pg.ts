import type { Queryable } from './db/database';
import { isUniqueViolation } from './db/errors';
import { uuidv7 } from './db/ids';
import type { FirebaseProfile, FirebaseUserDirectory } from './identity';
import { UsernameTakenError, type NewUser, type StoredUser, type UserStore } from './users';

interface UserRow {
  id: string;
  username: string | null;
  display_name: string;
  password_hash: string | null;
  created_at: Date;
}

const COLUMNS = 'id, username, display_name, password_hash, created_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Accounts without a user name or password (Firebase sign-in) read as '' for both: no user name
 * looks one up, and `verifyPassword` refuses an empty hash without running scrypt.
 */
const toStoredUser = (row: UserRow): StoredUser => ({
  id: row.id,
  username: row.username ?? '',
  displayName: row.display_name,
  passwordHash: row.password_hash ?? '',
  createdAt: row.created_at.getTime(),
});

/** Users in PostgreSQL (the `users` table of migrations/0001_core.sql): local accounts and Firebase accounts alike. */
export class PgUserStore implements UserStore, FirebaseUserDirectory {
  constructor(private readonly db: Queryable) {}

  async create(user: NewUser): Promise<StoredUser> {
    try {
      const row = await this.db.one<UserRow>(
        `INSERT INTO users (id, username, display_name, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [uuidv7(), user.username, user.displayName, user.passwordHash],
      );
      return toStoredUser(row);
    } catch (error) {
      if (isUniqueViolation(error, 'users_username_key')) throw new UsernameTakenError(user.username);
      throw error;
    }
  }

  async findByUsername(username: string): Promise<StoredUser | null> {
    const row = await this.db.maybeOne<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
    return row && toStoredUser(row);
  }

  async findById(id: string): Promise<StoredUser | null> {
    // Ids come from bearer tokens; one that is not a uuid would be a SQL error, not "no such user".
    if (!UUID.test(id)) return null;
    const row = await this.db.maybeOne<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return row && toStoredUser(row);
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [id, passwordHash]);
  }

  /**
   * Read first (the common case: one indexed lookup); on a miss insert, leaving any row a
   * concurrent first request inserted meanwhile in place, then read whichever row won.
   */
  async ensureFirebaseUser(profile: FirebaseProfile): Promise<StoredUser> {
    const existing = await this.findByFirebaseUid(profile.uid);
    if (existing) return existing;
    const inserted = await this.db.maybeOne<UserRow>(
      `INSERT INTO users (id, firebase_uid, display_name, avatar_url) VALUES ($1, $2, $3, $4)
       ON CONFLICT (firebase_uid) DO NOTHING
       RETURNING ${COLUMNS}`,
      [uuidv7(), profile.uid, profile.displayName, profile.avatarUrl ?? null],
    );
    if (inserted) return toStoredUser(inserted);
    const winner = await this.findByFirebaseUid(profile.uid);
    if (!winner) throw new Error(`the user of Firebase account ${profile.uid} was deleted while it was being created`);
    return winner;
  }

  private async findByFirebaseUid(uid: string): Promise<StoredUser | null> {
    const row = await this.db.maybeOne<UserRow>(`SELECT ${COLUMNS} FROM users WHERE firebase_uid = $1`, [uid]);
    return row && toStoredUser(row);
  }
}
