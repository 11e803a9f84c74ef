/**
 * The whole API (startApi) for route tests: on a throwaway database (or embedded PGlite), its
 * cache in the real Redis under a key prefix of its own, a publisher that records what it was
 * asked to deliver, and a small HTTP client bound to it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, startApi, type PresenceReader, type RunningApi } from '@concord/api';
import { HttpErrorBody, SessionResponse } from '@concord/protocol';
import { call, type CallOptions, type Reply } from './http';
import { createTestDatabase, type TestDatabase } from './postgres';
import { RecordingPublisher } from './recording-publisher';
import { deleteKeys, REDIS_URL } from './redis';

const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

export interface TestUser {
  id: string;
  name: string;
  token: string;
}

export interface GuildTestApi {
  url: string;
  api: RunningApi;
  /** The throwaway PostgreSQL database; none when the API runs on embedded PGlite. */
  database?: TestDatabase;
  publisher: RecordingPublisher;
  /** The Redis key prefix of this instance's cache. */
  keyPrefix: string;
  call<T = any>(method: string, route: string, options?: CallOptions): Promise<Reply<T>>;
  signUp(name: string): Promise<TestUser>;
  close(): Promise<void>;
}

export interface GuildTestOptions {
  /** Default: the real Redis (cache and rate limits there); false: everything in this process. */
  redis?: boolean;
  env?: Record<string, string>;
  /** Share another instance's database (a second API instance). */
  database?: TestDatabase;
  /** Run on embedded PGlite in the data directory (what `npm start` does) instead of PostgreSQL. */
  embedded?: boolean;
  keyPrefix?: string;
  presence?: PresenceReader;
}

let userCounter = 0;

/** A running API with a database of its own (unless given one); close() drops it again. */
export async function startGuildApi(options: GuildTestOptions = {}): Promise<GuildTestApi> {
  const ownsDatabase = !options.database && !options.embedded;
  const database = options.embedded ? undefined : (options.database ?? (await createTestDatabase()));
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-guild-'));
  const keyPrefix = options.keyPrefix ?? `concord-test:${randomBytes(6).toString('hex')}:`;
  const publisher = new RecordingPublisher();
  const config = loadConfig({
    CONCORD_DATA_DIR: dataDir,
    ...(database && { DATABASE_URL: database.url }),
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    AUTH_RATE_LIMIT: '100000',
    REDIS_KEY_PREFIX: keyPrefix,
    ...(options.redis !== false && { REDIS_URL }),
    ...options.env,
  });
  const generous = { limit: 100_000, windowMs: 60_000 };
  const api = await startApi(config, silent, {
    realtime: publisher,
    ...(options.presence && { presence: options.presence }),
    rateLimitRules: { inviteUser: generous, inviteIp: generous, joinUser: generous, joinIp: generous, messageUser: generous, messageIp: generous, serverCreateUser: generous, serverCreateIp: generous },
  });

  const callApi = <T>(method: string, route: string, options?: CallOptions) => call<T>(api.url, method, route, options);

  async function signUp(name: string): Promise<TestUser> {
    userCounter += 1;
    const username = `${name}${userCounter}`.slice(0, 32);
    const reply = await callApi('POST', '/api/auth/local/signup', { json: { username, password: 'correct horse battery', displayName: name } });
    if (reply.status !== 201) throw new Error(`sign-up of ${name} failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    const session = SessionResponse.parse(reply.body);
    return { id: session.user.id, name, token: session.token };
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await api.close();
      if (ownsDatabase) await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
      if (options.redis !== false) await deleteKeys(keyPrefix);
    })());

  return { url: api.url, api, database, publisher, keyPrefix, call: callApi, signUp, close };
}

/** Asserts the one error shape with this status and code, and returns the error. */
export function expectError(reply: Reply, status: number, code: string): { code: string; message: string } {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status, body: { error: { code } } });
  return HttpErrorBody.parse(reply.body).error;
}

/** Asserts a success status, showing the body when it is not. */
export function expectStatus<T>(reply: Reply<T>, status: number): T {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status });
  return reply.body;
}

export interface CreatedServer {
  id: string;
  ownerId: string;
  everyoneRoleId: string;
  textChannelId: string;
  voiceChannelId: string;
}

/** A server of `owner`'s, with the ids of what it starts with; `members` join through an invite. */
export async function createServer(t: GuildTestApi, owner: TestUser, members: TestUser[] = [], name = 'test server'): Promise<CreatedServer> {
  const server = expectStatus(await t.call('POST', '/api/servers', { token: owner.token, json: { name } }), 201);
  const channels = expectStatus(await t.call<{ id: string; kind: string }[]>('GET', `/api/servers/${server.id}/channels`, { token: owner.token }), 200);
  const roles = expectStatus(await t.call<{ id: string; isEveryone: boolean }[]>('GET', `/api/servers/${server.id}/roles`, { token: owner.token }), 200);
  if (members.length > 0) {
    const invite = expectStatus(await t.call('POST', `/api/servers/${server.id}/invites`, { token: owner.token, json: {} }), 201);
    for (const member of members) expectStatus(await t.call('POST', `/api/invites/${invite.code}/accept`, { token: member.token }), 200);
  }
  return {
    id: server.id,
    ownerId: owner.id,
    everyoneRoleId: roles.find((role) => role.isEveryone)!.id,
    textChannelId: channels.find((channel) => channel.kind === 'text')!.id,
    voiceChannelId: channels.find((channel) => channel.kind === 'voice')!.id,
  };
}

/** A role with these permissions, given to each of `holders`; returns its id. */
export async function createRole(t: GuildTestApi, server: CreatedServer, actor: TestUser, permissions: number, holders: TestUser[] = [], name = 'role'): Promise<string> {
  const role = expectStatus(await t.call('POST', `/api/servers/${server.id}/roles`, { token: actor.token, json: { name, permissions } }), 201);
  for (const holder of holders) expectStatus(await t.call('PUT', `/api/servers/${server.id}/members/${holder.id}/roles/${role.id}`, { token: actor.token }), 204);
  return role.id;
}
