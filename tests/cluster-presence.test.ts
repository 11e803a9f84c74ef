import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { io } from 'socket.io-client';
import { REALTIME_NAMESPACE, SessionResponse, type PresenceStatus } from '@concord/protocol';
import { RedisPresenceStore } from '@concord/registry';
import { failureReporter, postJson } from '@concord/testkit/src/cluster';
import { freePortBase } from '@concord/testkit/src/ports';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { ServiceProcess } from '@concord/testkit/src/processes';
import { RealtimeClient } from '@concord/testkit/src/realtime';
import { deleteKeys, REDIS_URL } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';

/*
 * Presence in the cluster as deployed: one API and two signaling processes, real processes sharing
 * one Redis under this run's key prefix. A connecting socket learns its user's servers from the
 * API (as the user), so the presence of a user on one signaling process reaches the members of
 * their servers on the other, including when the first process is killed.
 */

const PREFIX = `concord-cluster-presence-test:${process.pid}:${Date.now()}:`;
const READY_TIMEOUT_MS = 40_000;
/** Signaling's presence TTL (15 s) plus a heartbeat (5 s) of the surviving process, which sweeps, and slack. */
const CRASH_ANNOUNCED_MS = 30_000;
const OPS_LISTENER = { OPS_PORT: '0', OPS_HOST: '127.0.0.1' };

interface User {
  id: string;
  name: string;
  token: string;
}

let apiUrl = '';
let signalingUrls: string[] = [];
let api: ServiceProcess;
let signaling: ServiceProcess[] = [];
let dataDir: string | undefined;
let database: TestDatabase | undefined;
let store: RedisPresenceStore | undefined;
const clients: RealtimeClient[] = [];
const { reporting, failed } = failureReporter();

async function signUp(username: string): Promise<User> {
  const session = SessionResponse.parse(await postJson(apiUrl, '/api/auth/local/signup', { username, password: 'correct horse battery' }));
  return { id: session.user.id, name: username, token: session.token };
}

/** A server of `owner` that `guests` joined by invite. */
async function server(owner: User, guests: User[]): Promise<string> {
  const { id } = (await postJson(apiUrl, '/api/servers', { name: `${owner.name}'s server` }, owner.token)) as { id: string };
  const invite = (await postJson(apiUrl, `/api/servers/${id}/invites`, {}, owner.token)) as { code: string };
  for (const guest of guests) await postJson(apiUrl, `/api/invites/${invite.code}/accept`, {}, guest.token);
  return id;
}

/** `user`'s presence in the member list of the server as `viewer`'s page loads it. */
async function presenceListed(serverId: string, viewer: User, user: User): Promise<unknown> {
  const response = await fetch(`${apiUrl}/api/servers/${serverId}/members`, { headers: { authorization: `Bearer ${viewer.token}` } });
  if (!response.ok) throw new Error(`the member list answered ${response.status}`);
  return ((await response.json()) as { user: { id: string }; presence?: unknown }[]).find((member) => member.user.id === user.id)?.presence;
}

/** The user's real-time socket on signaling process `instance`, as the web client's gateway opens it; resolves once the user counts as online. */
async function connect(user: User, instance: number): Promise<RealtimeClient> {
  const socket = io(new URL(REALTIME_NAMESPACE, signalingUrls[instance]).href, { auth: { token: user.token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const client = new RealtimeClient(socket);
  clients.push(client);
  await eventually(() => socket.connected, 10_000, `${user.name} connects to signaling-${instance + 1}`);
  // Presence registers a connection after its server rooms are joined: from then on, it hears its servers.
  await eventually(async () => (await store!.statusOf([user.id])).get(user.id) === 'online', 10_000, `${user.name} counts as online`);
  return client;
}

/** The statuses of `user` that `client` was told of, in order. */
const toldOf = (client: RealtimeClient, user: User): PresenceStatus[] =>
  client.eventsOf('presence:updated').filter((update) => update.userId === user.id).map((update) => update.status);

/** Resolves once `client` has been told of `user`'s status more than `before` times, the last time `status`. */
async function told(client: RealtimeClient, user: User, status: PresenceStatus, before: number, timeoutMs = 10_000): Promise<void> {
  await eventually(() => toldOf(client, user).length > before && toldOf(client, user).at(-1) === status, timeoutMs, `told ${user.name} is ${status}`).catch((error: Error) => {
    throw new Error(`${error.message}; told ${JSON.stringify(toldOf(client, user))}`);
  });
}

beforeAll(
  reporting(async () => {
    const base = await freePortBase(3);
    dataDir = await mkdtemp(path.join(tmpdir(), 'concord-cluster-presence-'));
    database = await createTestDatabase();
    store = new RedisPresenceStore(REDIS_URL, { keyPrefix: PREFIX });
    apiUrl = `http://127.0.0.1:${base}`;
    signalingUrls = [`http://127.0.0.1:${base + 1}`, `http://127.0.0.1:${base + 2}`];
    api = new ServiceProcess('api/src/main.ts', {
      API_HOST: '127.0.0.1',
      API_PORT: String(base),
      CONCORD_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      LOG_LEVEL: 'info',
      ...OPS_LISTENER,
    }, 'api');
    // As deployed (docker/compose.yaml): only API_JWKS_URL names the API.
    signaling = signalingUrls.map(
      (url, i) =>
        new ServiceProcess('signaling/src/main.ts', {
          SIGNALING_ID: `signaling-${i + 1}`,
          SIGNALING_HOST: '127.0.0.1',
          SIGNALING_PORT: new URL(url).port,
          API_JWKS_URL: `${apiUrl}/api/.well-known/jwks.json`,
          SFU_SECRET: 'cluster-presence-secret-0123456789',
          REDIS_URL,
          REDIS_KEY_PREFIX: PREFIX,
          LOG_LEVEL: 'info',
          ...OPS_LISTENER,
        }, `signaling-${i + 1}`),
    );
    const ready = async (what: string, proc: ServiceProcess, url: string, okOnly: boolean): Promise<void> =>
      eventually(async () => {
        if (!proc.running) throw new Error(`${proc.name} exited before ${what}`);
        return fetch(url, { signal: AbortSignal.timeout(1_000) }).then((response) => !okOnly || response.ok, () => false);
      }, READY_TIMEOUT_MS, what);
    await Promise.all([ready('the API is ready', api, `${apiUrl}/api/health`, true), ...signaling.map((proc, i) => ready(`${proc.name} listens`, proc, signalingUrls[i]!, false))]);
  }),
  READY_TIMEOUT_MS + 5_000,
);

afterAll(async () => {
  for (const client of clients) client.socket.disconnect();
  for (const proc of [api, ...signaling]) proc?.crash();
  await Promise.all([api, ...signaling].map((proc) => proc?.waitForExit(5_000).catch(() => undefined)));
  if (failed()) process.stderr.write(`Output of the cluster's processes:\n${[api, ...signaling].map((proc) => proc?.report()).join('')}\n`);
  await store?.close();
  await deleteKeys(PREFIX, REDIS_URL);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await database?.drop();
}, 20_000);

test(
  'a member on the other signaling process sees a user come online, go offline, and go offline when their process is killed',
  reporting(async () => {
    const [alice, bob, carol] = [await signUp('alice'), await signUp('bob'), await signUp('carol')];
    const alices = await server(alice, [bob]);
    const carols = await server(carol, []);
    const bobsSocket = await connect(bob, 1);
    const carolsSocket = await connect(carol, 1);

    const alicesSocket = await connect(alice, 0);
    await told(bobsSocket, alice, 'online', 0);
    // A page loaded now lists her as online too: the API reads the presence signaling keeps.
    expect(await presenceListed(alices, bob, alice)).toBe('online');
    alicesSocket.socket.disconnect();
    await told(bobsSocket, alice, 'offline', 1);

    await connect(alice, 0);
    await told(bobsSocket, alice, 'online', 2);
    // Joined while connected (after signaling-1 asked the API for her servers): carol hears of her from now on.
    const invite = (await postJson(apiUrl, `/api/servers/${carols}/invites`, {}, carol.token)) as { code: string };
    await postJson(apiUrl, `/api/invites/${invite.code}/accept`, {}, alice.token);
    const carolBefore = toldOf(carolsSocket, alice).length;

    // No goodbye from signaling-1: signaling-2 finds its heartbeat lapsed and announces for it.
    signaling[0]!.crash();
    await told(bobsSocket, alice, 'offline', 3, CRASH_ANNOUNCED_MS);
    await told(carolsSocket, alice, 'offline', carolBefore, 5_000);
    expect(await presenceListed(alices, bob, alice)).toBe('offline');
  }),
  90_000,
);

test(
  'with the API unreachable a socket still connects, only without its servers’ presence',
  reporting(async () => {
    const dave = await signUp('dave');
    api.crash();
    await api.waitForExit(5_000);
    const davesSocket = await connect(dave, 1);
    expect(davesSocket.socket.connected).toBe(true);
    await eventually(() => signaling[1]!.output().includes('could not list the servers of a connecting user'), 5_000, 'the failure is logged');
    expect(signaling[1]!.running).toBe(true);
  }),
  30_000,
);
