/**
 * Fixtures for the message routes' tests: a seeded server on a throwaway database, API instances
 * serving the routes over HTTP, session tokens and a small HTTP client. Not for production code.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { DEFAULT_EVERYONE_PERMISSIONS, SESSION_AUDIENCE, type RealtimeEvent, type RealtimeEventName } from '@concord/protocol';
import { loadConfig } from '../config';
import { Database } from '../db/database';
import { uuidv7 } from '../db/ids';
import { migrate } from '../db/migrate';
import { signToken, type SigningKeys } from '../keys';
import { DEFAULT_RATE_LIMITS, type RateLimitRules } from '../rate-limits';
import { checkedEvent, type Audience, type RealtimePublisher } from '../realtime';
import { startApi, type RunningApi } from '../server';
import { SessionStore } from '../sessions';

export { sleep };

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
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

/** Polls `condition` every 10 ms until it holds, for at most `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await sleep(10);
  }
}

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request with a bearer token; `timeoutMs` bounds it (default 10 s). */
export async function call<T = any>(
  base: string,
  method: string,
  route: string,
  options: { token?: string; json?: unknown; raw?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.raw ?? JSON.stringify(options.json);
  }
  const response = await fetch(`${base}${route}`, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

export interface Published {
  userIds: string[];
  event: string;
  data: any;
}

/** A publisher that records what would have been delivered, checked against the event schemas as the real ones are. */
export class RecordingPublisher implements RealtimePublisher {
  readonly published: Published[] = [];

  async publish<E extends RealtimeEventName>(audience: Audience, event: E, data: RealtimeEvent<E>): Promise<void> {
    const checked = checkedEvent(audience, event, data);
    this.published.push({ userIds: [...checked.userIds].sort(), event, data: checked.data });
  }

  of(event: RealtimeEventName): Published[] {
    return this.published.filter((p) => p.event === event);
  }

  /** The first published event of a kind matching `matches`, past or within `timeoutMs`. */
  async next(event: RealtimeEventName, matches: (data: any) => boolean = () => true, timeoutMs = 3_000): Promise<Published> {
    let found: Published | undefined;
    await eventually(() => (found = this.of(event).find((p) => matches(p.data))) !== undefined, timeoutMs, `a published ${event}`);
    return found!;
  }

  async addToServerRoom(): Promise<void> {}
  async removeFromServerRoom(): Promise<void> {}
  async setVoicePermissions(): Promise<void> {}
  async revokeSessions(): Promise<void> {}
  async removeFromVoice(): Promise<void> {}
  async close(): Promise<void> {}
}
