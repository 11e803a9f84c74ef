/**
 * API instances for the message routes' tests, sharing one database, signing key and (optionally)
 * Redis like a cluster's; servers, channels and members seeded straight into the database; tokens
 * of real server-side sessions.
 */
import pino from 'pino';
import { DEFAULT_RATE_LIMITS, loadConfig, signToken, startApi, type RateLimitRules, type RealtimePublisher, type RunningApi, type SigningKeys } from '@concord/api';
import { Database } from '@concord/api/src/db/database';
import { uuidv7 } from '@concord/api/src/db/ids';
import { migrate } from '@concord/api/src/db/migrate';
import { SessionStore } from '@concord/api/src/sessions';
import { DEFAULT_EVERYONE_PERMISSIONS, SESSION_AUDIENCE } from '@concord/protocol';
import { RecordingPublisher } from './recording-publisher';
import { REDIS_URL } from './redis';

export const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Limits no functional test reaches; rate-limit tests pass their own. Sign-in has AUTH_RATE_LIMIT (see startChatApi). */
export const GENEROUS_LIMITS: Partial<RateLimitRules> = Object.fromEntries(
  Object.entries(DEFAULT_RATE_LIMITS)
    .filter(([name]) => name !== 'auth')
    .map(([name, rule]) => [name, name === 'typing' ? rule : { ...rule, limit: 100_000 }]),
);

export interface SeededServer {
  serverId: string;
  everyoneRoleId: string;
  channelId: string;
  ownerId: string;
}

export async function createUser(db: Database, name: string): Promise<string> {
  const id = uuidv7();
  await db.query('INSERT INTO users (id, username, display_name) VALUES ($1, $2, $3)', [id, `${name}-${id.slice(-8)}`, name]);
  return id;
}

/** A server owned by `ownerId` with an @everyone role of the default permissions and one text channel. */
export async function createServerWithChannel(db: Database, ownerId: string, everyonePermissions = DEFAULT_EVERYONE_PERMISSIONS): Promise<SeededServer> {
  const serverId = uuidv7();
  const everyoneRoleId = uuidv7();
  const channelId = uuidv7();
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO servers (id, name, owner_id) VALUES ($1, $2, $3)', [serverId, 'test server', ownerId]);
    await tx.query('INSERT INTO roles (id, server_id, name, permissions, is_everyone) VALUES ($1, $2, $3, $4, true)', [everyoneRoleId, serverId, '@everyone', everyonePermissions]);
    await tx.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2)', [serverId, ownerId]);
    await tx.query("INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', 'general')", [channelId, serverId]);
  });
  return { serverId, everyoneRoleId, channelId, ownerId };
}

export async function createChannel(db: Database, serverId: string, kind: 'text' | 'voice' | 'category' = 'text'): Promise<string> {
  const id = uuidv7();
  await db.query('INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, $3, $4)', [id, serverId, kind, `${kind}-${id.slice(-6)}`]);
  return id;
}

export async function addMember(db: Database, serverId: string, userId: string): Promise<void> {
  await db.query('INSERT INTO members (server_id, user_id) VALUES ($1, $2)', [serverId, userId]);
}

/** A role with `permissions` given to the member. */
export async function grantRole(db: Database, serverId: string, userId: string, permissions: number): Promise<string> {
  const roleId = uuidv7();
  await db.query('INSERT INTO roles (id, server_id, name, permissions, position) VALUES ($1, $2, $3, $4, 1)', [roleId, serverId, 'role', permissions]);
  await db.query('INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3)', [serverId, userId, roleId]);
  return roleId;
}

export async function setMemberOverwrite(db: Database, channelId: string, userId: string, allow: number, deny: number): Promise<void> {
  await db.query(
    `INSERT INTO permission_overwrites (channel_id, target_type, target_id, allow, deny) VALUES ($1, 'member', $2, $3, $4)
     ON CONFLICT (channel_id, target_type, target_id) DO UPDATE SET allow = excluded.allow, deny = excluded.deny`,
    [channelId, userId, allow, deny],
  );
}

/** A token of a real server-side session of the user (the API refuses one without). */
export async function sessionToken(db: Database, keys: SigningKeys, userId: string): Promise<string> {
  const sid = await new SessionStore(db).create(userId, { userAgent: 'test', ip: '127.0.0.1' }, Date.now() + 3_600_000);
  return (await signToken(keys, SESSION_AUDIENCE, { sub: userId, name: 'tester', sid }, 3_600)).token;
}

export interface SeededMembers extends SeededServer {
  /** The owner first. */
  userIds: string[];
  /** A session token of each, in the same order. */
  tokens: string[];
}

/** A server (createServerWithChannel) with `members` members in all, the owner first, and a token of each. */
export async function seedServerWithMembers(db: Database, keys: SigningKeys, members: number): Promise<SeededMembers> {
  const userIds = [await createUser(db, 'owner')];
  const guild = await createServerWithChannel(db, userIds[0]!);
  for (let i = 1; i < members; i++) {
    userIds.push(await createUser(db, `member${i}`));
    await addMember(db, guild.serverId, userIds[i]!);
  }
  return { ...guild, userIds, tokens: await Promise.all(userIds.map((id) => sessionToken(db, keys, id))) };
}

export async function openTestDb(url: string, options: { connectTimeoutMs?: number } = {}): Promise<Database> {
  const db = new Database({ connectionString: url, poolSize: 10, ...options });
  await migrate(db);
  return db;
}

export interface ChatApiOptions {
  databaseUrl: string;
  /** The API's signing key: instances of one test share it (and signaling verifies with it). */
  keys: SigningKeys;
  /** Holds nothing but must exist (CONCORD_DATA_DIR). */
  dataDir: string;
  /** Default: a RecordingPublisher of this instance's own. */
  realtime?: RealtimePublisher;
  /** REDIS_URL and REDIS_KEY_PREFIX: cache and rate limits in Redis, shared by instances with the same prefix. */
  redisKeyPrefix?: string;
  /** Default GENEROUS_LIMITS. */
  rateLimitRules?: Partial<RateLimitRules>;
  /** Extra environment, e.g. AUTH_RATE_LIMIT. */
  env?: Record<string, string>;
}

/** A real API instance (startApi: every route, PostgreSQL, the cache, rate limits) on a free loopback port. */
export async function startChatApi(options: ChatApiOptions): Promise<RunningApi> {
  const env: Record<string, string> = {
    CONCORD_DATA_DIR: options.dataDir,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    DATABASE_URL: options.databaseUrl,
    API_PRIVATE_KEY_PEM: options.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    AUTH_RATE_LIMIT: '100000',
    ...(options.redisKeyPrefix !== undefined && { REDIS_URL, REDIS_KEY_PREFIX: options.redisKeyPrefix }),
    ...options.env,
  };
  return startApi(loadConfig(env), silent, { realtime: options.realtime ?? new RecordingPublisher(), rateLimitRules: options.rateLimitRules ?? GENEROUS_LIMITS });
}
