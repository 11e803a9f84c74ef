import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PublicUser } from '@concord/protocol';
import { writeFileAtomic } from './files';

export interface StoredUser extends PublicUser {
  passwordHash: string;
  createdAt: number;
}

export interface NewUser {
  username: string;
  displayName: string;
  passwordHash: string;
}

/** Thrown by `create` when the user name (compared case-insensitively) is taken. */
export class UsernameTakenError extends Error {
  constructor(username: string) {
    super(`user name "${username}" is taken`);
    this.name = 'UsernameTakenError';
  }
}

/** Local accounts. User names are unique regardless of case, so "Alice" cannot pose as "alice". */
export interface UserStore {
  create(user: NewUser): Promise<StoredUser>;
  findByUsername(username: string): Promise<StoredUser | null>;
  findById(id: string): Promise<StoredUser | null>;
  /** Replaces a local account's password (its sessions are the caller's business). */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
}

export const toPublicUser = ({ id, username, displayName }: StoredUser): PublicUser => ({ id, username, displayName });

const usernameKey = (username: string) => username.toLowerCase();

export const USERS_FILE = 'users.json';

interface UsersFile {
  version: 1;
  users: StoredUser[];
}

/**
 * The embedded default: every user in memory, the whole set rewritten atomically on each change.
 * Fine for a self-hosted instance's sign-ups; the PostgreSQL store takes over at scale.
 */
export class FileUserStore implements UserStore {
  private readonly byId = new Map<string, StoredUser>();
  private readonly byUsername = new Map<string, StoredUser>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  static async open(dataDir: string): Promise<FileUserStore> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const store = new FileUserStore(path.join(dataDir, USERS_FILE));
    await store.load();
    return store;
  }

  async create(user: NewUser): Promise<StoredUser> {
    const key = usernameKey(user.username);
    if (this.byUsername.has(key)) throw new UsernameTakenError(user.username);
    const stored: StoredUser = { id: randomUUID(), ...user, createdAt: Date.now() };
    this.index(stored);
    try {
      await this.persist();
    } catch (error) {
      this.byId.delete(stored.id);
      this.byUsername.delete(key);
      throw error;
    }
    return stored;
  }

  async findByUsername(username: string): Promise<StoredUser | null> {
    return this.byUsername.get(usernameKey(username)) ?? null;
  }

  async findById(id: string): Promise<StoredUser | null> {
    return this.byId.get(id) ?? null;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    const user = this.byId.get(id);
    if (!user) throw new Error(`no user ${id}`);
    const previous = user.passwordHash;
    user.passwordHash = passwordHash;
    try {
      await this.persist();
    } catch (error) {
      user.passwordHash = previous;
      throw error;
    }
  }

  private index(user: StoredUser): void {
    this.byId.set(user.id, user);
    this.byUsername.set(usernameKey(user.username), user);
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    // A file we cannot read is a fault to report, never a reason to start empty and overwrite it.
    let data: Partial<UsersFile> | null = null;
    try {
      data = JSON.parse(text) as Partial<UsersFile>;
    } catch {
      // reported below
    }
    if (data?.version !== 1 || !Array.isArray(data.users)) throw new Error(`${this.file} is not a readable version 1 users file`);
    for (const user of data.users) this.index(user);
  }

  /** Writes run one after another, each with the then-current set, so a later write never loses an earlier user. */
  private persist(): Promise<void> {
    const write = this.writes.then(() => {
      const data: UsersFile = { version: 1, users: [...this.byId.values()] };
      return writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, 0o600);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}
