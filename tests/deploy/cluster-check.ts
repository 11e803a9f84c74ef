/*
 * The compose cluster's checks, run by tests/deploy/run.sh (`npm run test:deploy`) once the
 * images are built and docker/compose.yaml is up: everything goes through nginx, as a user's
 * browser would. Not a jest test: it needs Docker and minutes, so `npm test` leaves it out.
 *
 * Env: DEPLOY_COMPOSE (the docker-compose command with its -p/-f/--env-file), DEPLOY_ENV_FILE
 * (that env file), DEPLOY_RESULTS (a JSON file for the cold-start and size figures docs/deploy.md
 * records).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { io } from 'socket.io-client';
import { SessionResponse } from '@concord/protocol';
import { closePeople, type Person } from '@concord/testkit/src/browser';
import { call } from '@concord/testkit/src/http';
import { RealtimeClient } from '@concord/testkit/src/realtime';
import type { User } from '@concord/testkit/src/voice-client';
import { eventually, waitUntil } from '@concord/testkit/src/wait';
import { affinityOf, callConnected, chatInPages, cookiesPerContainer, expectMediaBothWays, joinCall, openChannel, personPinnedTo, screenshots, socketCount } from './browser-call';

const LB = 'http://127.0.0.1:8080';
/** Each service's ops port in docker/compose.yaml. */
const OPS_PORTS: Record<string, number> = { 'api-1': 9111, 'api-2': 9112, 'signaling-1': 9121, 'signaling-2': 9122, 'sfu-1': 9131, 'sfu-2': 9132 };
const compose = (process.env.DEPLOY_COMPOSE ?? 'docker-compose -f docker/compose.yaml').split(' ');
const clients: { close(): void }[] = [];
const people: Person[] = [];
/** The SFU containers' media ports (SFU_RTC_PORT_BASE 40000 and 40100, one worker each). */
const sfuMediaPort = (port: number): boolean => (port >= 40000 && port < 40010) || (port >= 40100 && port < 40110);

function run(command: string[], ...args: string[]): string {
  return execFileSync(command[0]!, [...command.slice(1), ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const step = (what: string): void => void process.stdout.write(`[deploy-check] ${what}\n`);

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/**
 * Starts `services` and measures container start → first ready /readyz, in ms (polled every
 * 100 ms; the script is loaded before, so its own start-up is not counted).
 */
async function coldStarts(services: string[]): Promise<Record<string, number>> {
  run(compose, 'up', '-d', '--no-deps', ...services);
  const starts: Record<string, number> = {};
  await Promise.all(
    services.filter((service) => service in OPS_PORTS).map(async (service) => {
      const port = OPS_PORTS[service]!;
      await waitUntil(`${service} is ready`, () => ready(port), (isReady) => isReady, 90_000);
      const readyAt = Date.now();
      const container = run(compose, 'ps', '-q', service);
      const startedAt = Date.parse(run(['docker'], 'inspect', '-f', '{{.State.StartedAt}}', container));
      starts[service] = readyAt - startedAt;
    }),
  );
  return starts;
}

/** The answer to a GET asking to upgrade to `protocol` (fetch refuses to send Upgrade itself). */
function withUpgrade(route: string, protocol: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${LB}${route}`, { headers: { upgrade: protocol, connection: 'upgrade' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

async function postJson<T = any>(route: string, json: unknown, token?: string): Promise<T> {
  const reply = await call<T>(LB, 'POST', route, { json, token });
  assert.ok(reply.status < 300, `POST ${route} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

async function signUp(name: string): Promise<User> {
  const session = SessionResponse.parse(await postJson('/api/auth/local/signup', { username: name, password: 'correct horse battery' }));
  return { id: session.user.id, name, token: session.token };
}

function realtime(user: User): RealtimeClient {
  const socket = io(LB, { auth: { token: user.token }, transports: ['websocket'], reconnection: false });
  clients.push(socket);
  return new RealtimeClient(socket);
}

/** `sender` posts in the channel; `receiver`'s socket gets it as it happened. */
async function chat(sender: User, receiver: RealtimeClient, channelId: string, content: string): Promise<void> {
  const sent = await postJson<{ id: string }>(`/api/channels/${channelId}/messages`, { content }, sender.token);
  const received = await receiver.next('message:created', (message) => message.id === sent.id, 5_000);
  assert.equal(received.content, content);
}

/** The image started with `env` exits at once (well within 15 s), naming `secret`. */
function refusesToStart(target: string, secret: string, env: Record<string, string> = {}): void {
  const started = Date.now();
  const image = `${process.env.IMAGE_PREFIX ?? 'concord'}-${target}:latest`;
  const envArgs = Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]);
  const result = spawnSync('docker', ['run', '--rm', '--network', 'host', ...envArgs, image], { encoding: 'utf8', timeout: 15_000 });
  assert.notEqual(result.status, 0, `${image} without ${secret} exited ${result.status} (signal ${result.signal})`);
  assert.match(result.stdout + result.stderr, new RegExp(`cannot start: ${secret}`), `${image} names ${secret}`);
  step(`${image} ${Object.keys(env).length ? `with a bad ${secret}` : `without ${secret}`}: exit ${result.status} after ${Date.now() - started} ms, naming it`);
}

/** docker compose refuses to start the cluster while `secret` is missing from its env file, naming it. */
function composeRefusesWithout(secret: string): void {
  const envFile = process.env.DEPLOY_ENV_FILE!;
  const without = path.join(path.dirname(envFile), `without-${secret}.env`);
  writeFileSync(without, readFileSync(envFile, 'utf8').split('\n').filter((line) => !line.startsWith(`${secret}=`)).join('\n'));
  const command = compose.map((arg) => (arg === envFile ? without : arg));
  const result = spawnSync(command[0]!, [...command.slice(1), 'up', '--no-start', 'api-1'], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(result.status, 0, `compose without ${secret} started: ${result.stdout}`);
  assert.match(result.stderr, new RegExp(secret), `compose names ${secret}: ${result.stderr}`);
  step(`docker compose without ${secret}: refused, naming it`);
}

/** Starts `services` and waits until Docker's health check passes; answers container start → healthy, in ms. */
async function startHealthy(services: string[]): Promise<Record<string, number>> {
  run(compose, 'up', '-d', '--no-deps', ...services);
  const starts: Record<string, number> = {};
  for (const service of services) {
    const container = run(compose, 'ps', '-q', service);
    await waitUntil(`${service} is healthy`, async () => run(['docker'], 'inspect', '-f', '{{.State.Health.Status}}', container), (status) => status === 'healthy', 120_000);
    const healthyAt = Date.now();
    starts[service] = healthyAt - Date.parse(run(['docker'], 'inspect', '-f', '{{.State.StartedAt}}', container));
  }
  return starts;
}

/** The channel's history through nginx: every one of `contents` is in it. */
async function expectHistory(token: string, channelId: string, contents: string[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `the history holds ${JSON.stringify(contents)}`,
    async () => {
      const reply = await call(LB, 'GET', `/api/channels/${channelId}/messages?limit=100`, { token }).catch((error: unknown) => ({ status: 0, body: String(error) }));
      return { status: reply.status, text: JSON.stringify(reply.body) };
    },
    (seen) => seen.status === 200 && contents.every((content) => seen.text.includes(content)),
    timeoutMs,
    (seen) => `${seen.status} ${seen.text.slice(0, 400)}`,
  );
}

/** Lines of `service`'s log containing every one of `parts`. */
const logLines = (service: string, ...parts: string[]): string[] =>
  run(compose, 'logs', '--no-color', service)
    .split('\n')
    .filter((line) => parts.every((part) => line.includes(part)));

async function main(): Promise<void> {
  // Bad configuration stops a container at once, saying what is missing.
  refusesToStart('signaling', 'SFU_SECRET');
  refusesToStart('sfu', 'SFU_SECRET');
  // The API makes its own signing key when none is given (fine for one instance): a malformed one stops it.
  refusesToStart('api', 'API_PRIVATE_KEY_PEM', { API_PRIVATE_KEY_PEM: 'not-a-key' });
  composeRefusesWithout('API_PRIVATE_KEY_PEM');

  const results: Record<string, unknown> = { dataStoresHealthyMs: await startHealthy(['postgres', 'redis']) };
  results.coldStartMs = await coldStarts(['nginx', ...Object.keys(OPS_PORTS)]);
  step(`postgres and redis healthy ${JSON.stringify(results.dataStoresHealthyMs)}; container start → /readyz, all six at once: ${JSON.stringify(results.coldStartMs)}`);

  // The web client, with the caching rules and precompressed assets.
  const index = await fetch(`${LB}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, `no /assets/*.js in index.html: ${html.slice(0, 300)}`);
  for (const encoding of ['br', 'gzip']) {
    const asset = await fetch(`${LB}${script}`, { headers: { 'accept-encoding': encoding } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(asset.headers.get('content-encoding'), encoding, `${script} with accept-encoding ${encoding}`);
  }
  assert.equal((await fetch(`${LB}/servers/anything`)).headers.get('content-type')?.startsWith('text/html'), true, 'a client-side route gets index.html');
  step('static web: index.html no-cache, hashed assets immutable, served as .br and .gz');

  // Bad input stops at nginx, with the API's error body.
  const oversized = await call(LB, 'POST', '/api/auth/local/signin', { raw: JSON.stringify({ username: 'x', password: 'y'.repeat(2_000_000) }) });
  assert.deepEqual({ status: oversized.status, code: oversized.body?.error?.code }, { status: 413, code: 'PAYLOAD_TOO_LARGE' });
  const upgrade = await withUpgrade('/socket.io/?EIO=4&transport=websocket', 'h2c');
  assert.deepEqual({ status: upgrade.status, code: JSON.parse(upgrade.body || '{}').error?.code }, { status: 400, code: 'BAD_REQUEST' });
  step(`nginx: 2 MB body → 413 ${JSON.stringify(oversized.body)}; Upgrade: h2c on /socket.io/ → 400 ${upgrade.body}`);

  // Two users, a server, chat over HTTP and socket.io.
  const suffix = Date.now().toString(36);
  const alice = await signUp(`alice${suffix}`);
  const bob = await signUp(`bob${suffix}`);
  const { textId } = await serverWith(alice, bob, 'deploy test');

  // Sockets until both signaling containers hold one of bob's: nginx spreads WebSockets.
  const bobSockets: RealtimeClient[] = [];
  for (let i = 0; i < 8 && ((await socketCount(9121)) === 0 || (await socketCount(9122)) === 0); i++) {
    const client = realtime(bob);
    await eventually(() => client.socket.connected, 5_000, 'bob connected');
    bobSockets.push(client);
  }
  assert.ok((await socketCount(9121)) > 0 && (await socketCount(9122)) > 0, 'WebSockets reach both signaling containers');
  await chat(alice, bobSockets[0]!, textId, 'hello through nginx');
  for (const client of bobSockets) await client.next('message:created', (message) => message.content === 'hello through nginx', 5_000);
  for (const client of bobSockets) client.socket.close();
  step(`signed up two users over HTTP; chat reached bob's ${bobSockets.length} sockets on both signaling containers`);

  // Two browsers, each pinned to its own signaling container by nginx's affinity cookie.
  const dir = mkdtempSync(path.join(tmpdir(), 'concord-deploy-'));
  const [cookieOne, cookieTwo] = await cookiesPerContainer(LB, alice.token, [9121, 9122]);
  const ann = await personPinnedTo(`ann${suffix}`, dir, LB, cookieOne!);
  people.push(ann.person);
  const ben = await personPinnedTo(`ben${suffix}`, dir, LB, cookieTwo!);
  people.push(ben.person);
  const pages = [ann.person, ben.person];
  const annUser: User = { id: ann.person.userId, name: ann.person.name, token: ann.token };
  const benUser: User = { id: ben.person.userId, name: ben.person.name, token: ben.token };
  const room = await serverWith(annUser, benUser, 'deploy call');
  for (const p of pages) {
    await p.page.goto(`${LB}/channels/${room.serverId}/${room.textId}`);
    await p.page.waitForSelector('[data-testid=message-input]', { timeout: 30_000 });
  }
  const cookies = { ann: await affinityOf(ann.person, LB), ben: await affinityOf(ben.person, LB) };
  assert.deepEqual(cookies, { ann: cookieOne, ben: cookieTwo }, 'each page keeps the affinity cookie that pins it');
  await chatInPages(ann.person, pages, 'hello from ann’s browser');
  await chatInPages(ben.person, pages, 'and from ben’s');
  step(`two browsers signed up through the UI (sticky cookies ${JSON.stringify(cookies)}) and chatted`);

  for (const p of pages) await joinCall(p, LB, room.serverId, room.voiceId);
  // Each page's sockets (gateway and call) sit on its own container; each container's log shows its page's join.
  const counts = await waitUntil('each signaling container holds sockets', () => Promise.all([socketCount(9121), socketCount(9122)]), ([one, two]) => one! > 0 && two! > 0, 30_000);
  const joins = (service: string, user: string) => logLines(service, 'peer joined room', user);
  assert.deepEqual(
    { one: [joins('signaling-1', ann.person.userId).length, joins('signaling-1', ben.person.userId).length], two: [joins('signaling-2', ann.person.userId).length, joins('signaling-2', ben.person.userId).length] },
    { one: [1, 0], two: [0, 1] },
    'ann joined through signaling-1, ben through signaling-2',
  );
  const sfuNode = /"nodeId":"([^"]+)"/.exec(joins('signaling-1', ann.person.userId)[0]!)?.[1];
  results.framesDecoded = { beforeFailover: await expectMediaBothWays(ann.person, ben.person, sfuMediaPort, 90_000) };
  step(`call: ann's sockets on signaling-1, ben's on signaling-2 (sockets ${JSON.stringify(counts)}), the room on ${sfuNode}; each page decodes the other's video ${JSON.stringify(results.framesDecoded)}`);

  // One API and one signaling container stop: the call and chat go on through the others.
  run(compose, 'stop', '-t', '10', 'api-1', 'signaling-1');
  assert.equal(await ready(9111), false);
  assert.equal(await ready(9121), false);
  await waitUntil('ann’s call rejoins through signaling-2', async () => joins('signaling-2', ann.person.userId).length, (count) => count >= 1, 90_000);
  for (const p of pages) await callConnected(p, 90_000);
  (results.framesDecoded as Record<string, unknown>).afterFailover = await expectMediaBothWays(ann.person, ben.person, sfuMediaPort, 90_000);
  for (const p of pages) await openChannel(p, room.textId);
  await chatInPages(ann.person, pages, 'ann, after signaling-1 stopped');
  step(`api-1 and signaling-1 stopped: ann's page rejoined through signaling-2, video flows both ways again ${JSON.stringify(results.framesDecoded)}, chat reaches both pages`);

  const survivor = realtime(bob);
  await eventually(() => survivor.socket.connected, 10_000, 'bob reconnected through nginx');
  for (let i = 0; i < 4; i++) await chat(alice, survivor, textId, `after the failover ${i}`);
  await expectHistory(bob.token, textId, ['hello through nginx', 'after the failover 3']);
  step('and over HTTP: chat and history through api-2 and signaling-2');

  // Restarted one at a time, each cold start is the service's own.
  results.restartMs = { ...(await coldStarts(['api-1'])), ...(await coldStarts(['signaling-1'])) };
  step(`restarted alone, container start → /readyz: ${JSON.stringify(results.restartMs)}`);

  // What must persist does: the PostgreSQL container restarts, then the whole cluster goes down and up.
  const said = ['hello from ann’s browser', 'and from ben’s', 'ann, after signaling-1 stopped'];
  run(compose, 'restart', '-t', '10', 'postgres');
  await startHealthy(['postgres']);
  await expectHistory(ann.token, room.textId, said);
  await postJson(`/api/channels/${room.textId}/messages`, { content: 'after postgres restarted' }, ben.token);
  step('the postgres container restarted: the history is whole, and new messages are stored');

  await closePeople(people.splice(0));
  run(compose, 'down', '-t', '10');
  const volumes = run(['docker'], 'volume', 'ls', '-q', '--filter', `name=${compose[compose.indexOf('-p') + 1] ?? 'docker'}_`);
  assert.match(volumes, /postgres-data/, `the postgres volume outlives docker compose down: ${volumes}`);
  await startHealthy(['postgres', 'redis']);
  results.upAgainMs = await coldStarts(['nginx', ...Object.keys(OPS_PORTS)]);
  // The sessions from before still sign their users in, and every message is there.
  await expectHistory(ann.token, room.textId, [...said, 'after postgres restarted']);
  await expectHistory(bob.token, textId, ['hello through nginx', 'after the failover 3']);
  step(`docker compose down and up again (${JSON.stringify(results.upAgainMs)}): sessions and messages survived in the volumes`);

  results.images = Object.fromEntries(
    [...['api', 'signaling', 'sfu', 'web'].map((target) => `${process.env.IMAGE_PREFIX ?? 'concord'}-${target}`), 'concord-test-postgres', 'concord-test-redis'].map((image) => [
      image,
      Number(run(['docker'], 'image', 'inspect', '-f', '{{.Size}}', `${image}:latest`)),
    ]),
  );
  if (process.env.DEPLOY_RESULTS) writeFileSync(process.env.DEPLOY_RESULTS, JSON.stringify(results, null, 2));
  step(`images (bytes): ${JSON.stringify(results.images)}`);
  rmSync(dir, { recursive: true, force: true });
}

/** A server of `owner`'s that `member` joined by invite; its first text and voice channels. */
async function serverWith(owner: User, member: User, name: string): Promise<{ serverId: string; textId: string; voiceId: string }> {
  const server = await postJson<{ id: string }>('/api/servers', { name }, owner.token);
  const invite = await postJson<{ code: string }>(`/api/servers/${server.id}/invites`, {}, owner.token);
  await postJson(`/api/invites/${invite.code}/accept`, {}, member.token);
  const channels = (await call<{ id: string; kind: string }[]>(LB, 'GET', `/api/servers/${server.id}/channels`, { token: owner.token })).body;
  return { serverId: server.id, textId: channels.find((channel) => channel.kind === 'text')!.id, voiceId: channels.find((channel) => channel.kind === 'voice')!.id };
}

main().then(
  async () => {
    for (const client of clients) client.close();
    await closePeople(people);
    step('passed');
  },
  async (error: unknown) => {
    for (const client of clients) client.close();
    for (const p of people) if (p.errors.length) process.stderr.write(`${p.name}'s browser errors:\n${p.errors.slice(-20).join('\n')}\n`);
    for (const shot of await screenshots(people)) process.stderr.write(`screenshot: ${shot}\n`);
    await closePeople(people);
    process.stderr.write(`[deploy-check] FAILED: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
