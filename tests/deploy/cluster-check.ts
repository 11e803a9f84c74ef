/*
 * The compose cluster's checks, run by tests/deploy/run.sh (`npm run test:deploy`) once the
 * images are built and docker/compose.yaml is up: everything goes through nginx, as a user's
 * browser would. Not a jest test: it needs Docker and minutes, so `npm test` leaves it out.
 *
 * Env: DEPLOY_COMPOSE (the docker-compose command with its -p/-f/--env-file), DEPLOY_RESULTS
 * (a JSON file for the cold-start and size figures docs/deploy.md records).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { io } from 'socket.io-client';
import { SessionResponse, VoiceGrantResponse } from '@concord/protocol';
import { call } from '@concord/testkit/src/http';
import { RealtimeClient } from '@concord/testkit/src/realtime';
import { VoiceClient, type User, produceRequest } from '@concord/testkit/src/voice-client';
import { eventually, waitUntil } from '@concord/testkit/src/wait';

const LB = 'http://127.0.0.1:8080';
/** Each service's ops port in docker/compose.yaml. */
const OPS_PORTS: Record<string, number> = { 'api-1': 9111, 'api-2': 9112, 'signaling-1': 9121, 'signaling-2': 9122, 'sfu-1': 9131, 'sfu-2': 9132 };
const compose = (process.env.DEPLOY_COMPOSE ?? 'docker-compose -f docker/compose.yaml').split(' ');
const clients: { close(): void }[] = [];

function run(command: string[], ...args: string[]): string {
  return execFileSync(command[0]!, [...command.slice(1), ...args], { encoding: 'utf8' }).trim();
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

/** The status of a GET asking to upgrade to `protocol` (fetch refuses to send Upgrade itself). */
function statusWithUpgrade(route: string, protocol: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${LB}${route}`, { headers: { upgrade: protocol, connection: 'upgrade' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
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

async function sockets(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^concord_signaling_sockets (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** `sender` posts in the channel; `receiver`'s socket gets it as it happened. */
async function chat(sender: User, receiver: RealtimeClient, channelId: string, content: string): Promise<void> {
  const sent = await postJson<{ id: string }>(`/api/channels/${channelId}/messages`, { content }, sender.token);
  const received = await receiver.next('message:created', (message) => message.id === sent.id, 5_000);
  assert.equal(received.content, content);
}

/** A container started without its required secret exits at once (well within 15 s), naming it. */
function refusesWithoutSecret(target: string, secret: string): void {
  const started = Date.now();
  const image = `${process.env.IMAGE_PREFIX ?? 'concord'}-${target}:latest`;
  const result = spawnSync('docker', ['run', '--rm', '--network', 'host', image], { encoding: 'utf8', timeout: 15_000 });
  assert.notEqual(result.status, 0, `${image} without ${secret} exited ${result.status} (signal ${result.signal})`);
  assert.match(result.stdout + result.stderr, new RegExp(`cannot start: ${secret}`), `${image} names ${secret}`);
  step(`${image} without ${secret}: exit ${result.status} after ${Date.now() - started} ms, naming it`);
}

async function main(): Promise<void> {
  refusesWithoutSecret('signaling', 'SFU_SECRET');
  refusesWithoutSecret('sfu', 'SFU_SECRET');
  const results: Record<string, unknown> = { coldStartMs: await coldStarts(['nginx', ...Object.keys(OPS_PORTS)]) };
  step(`every service ready; container start → /readyz, all six at once: ${JSON.stringify(results.coldStartMs)}`);

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

  // Bad input stops at nginx.
  const oversized = await call(LB, 'POST', '/api/auth/local/signin', { raw: JSON.stringify({ username: 'x', password: 'y'.repeat(2_000_000) }) });
  assert.equal(oversized.status, 413);
  assert.equal(await statusWithUpgrade('/socket.io/?EIO=4&transport=websocket', 'h2c'), 400);
  step('nginx: 2 MB body → 413, Upgrade: h2c on /socket.io/ → 400');

  // Two users, a server, chat over HTTP and socket.io.
  const suffix = Date.now().toString(36);
  const alice = await signUp(`alice${suffix}`);
  const bob = await signUp(`bob${suffix}`);
  const server = await postJson<{ id: string }>('/api/servers', { name: 'deploy test' }, alice.token);
  const invite = await postJson<{ code: string }>(`/api/servers/${server.id}/invites`, {}, alice.token);
  await postJson(`/api/invites/${invite.code}/accept`, {}, bob.token);
  const channels = (await call<{ id: string; kind: string }[]>(LB, 'GET', `/api/servers/${server.id}/channels`, { token: alice.token })).body;
  const textId = channels.find((channel) => channel.kind === 'text')!.id;
  const roomId = channels.find((channel) => channel.kind === 'voice')!.id;

  // Sockets until both signaling containers hold one of bob's: nginx spreads WebSockets.
  const bobSockets: RealtimeClient[] = [];
  for (let i = 0; i < 8 && ((await sockets(9121)) === 0 || (await sockets(9122)) === 0); i++) {
    const client = realtime(bob);
    await eventually(() => client.socket.connected, 5_000, 'bob connected');
    bobSockets.push(client);
  }
  assert.ok((await sockets(9121)) > 0 && (await sockets(9122)) > 0, 'WebSockets reach both signaling containers');
  await chat(alice, bobSockets[0]!, textId, 'hello through nginx');
  for (const client of bobSockets) await client.next('message:created', (message) => message.content === 'hello through nginx', 5_000);
  step(`signed up two users; chat reached bob's ${bobSockets.length} sockets on both signaling containers`);

  // A call: both join through nginx, alice's mic reaches bob through an SFU container.
  const voice = async (user: User): Promise<VoiceClient> => {
    const client = new VoiceClient(user, LB);
    clients.push(client);
    await client.connected();
    const { grant } = VoiceGrantResponse.parse(await postJson('/api/voice/grant', { roomId }, user.token));
    const joined = await client.request('voice:join', { grant });
    const recv = await client.request('voice:createTransport', { direction: 'recv' });
    assert.ok(recv.iceCandidates.every((candidate) => candidate.address === '127.0.0.1'), 'media on loopback only');
    await client.request('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
    return client;
  };
  /** Both join, alice's microphone reaches bob: the SFU container made him a consumer of it. */
  const carryCall = async (ssrc: number): Promise<void> => {
    const aliceCall = await voice(alice);
    const bobCall = await voice(bob);
    const send = await aliceCall.request('voice:createTransport', { direction: 'send' });
    const { producerId } = await aliceCall.request('voice:produce', produceRequest(send.transportId, 'mic', ssrc));
    await bobCall.waitFor('voice:newConsumer', (consumer) => consumer.producerId === producerId, 10_000);
  };
  await carryCall(1111);
  step("call: alice and bob joined through nginx; alice's microphone is consumed by bob");

  // One API and one signaling container stop: chat keeps working through the others.
  run(compose, 'stop', '-t', '10', 'api-1', 'signaling-1');
  assert.equal(await ready(9111), false);
  assert.equal(await ready(9121), false);
  const survivor = realtime(bob);
  await eventually(() => survivor.socket.connected, 10_000, 'bob reconnected through nginx');
  for (let i = 0; i < 4; i++) await chat(alice, survivor, textId, `after the failover ${i}`);
  const history = await call<{ content: string }[] | { messages: { content: string }[] }>(LB, 'GET', `/api/channels/${textId}/messages`, { token: bob.token });
  assert.equal(history.status, 200);
  assert.match(JSON.stringify(history.body), /hello through nginx/);
  // Calls whose socket was on signaling-1 rejoin, as the web client does, through signaling-2.
  await carryCall(2222);
  step('api-1 and signaling-1 stopped: chat, history and a call work through api-2 and signaling-2');

  // Restarted one at a time, each cold start is the service's own.
  results.restartMs = { ...(await coldStarts(['api-1'])), ...(await coldStarts(['signaling-1'])) };
  step(`restarted alone, container start → /readyz: ${JSON.stringify(results.restartMs)}`);

  results.images = Object.fromEntries(
    ['api', 'signaling', 'sfu', 'web'].map((target) => [target, run(['docker'], 'image', 'inspect', '-f', '{{.Size}}', `${process.env.IMAGE_PREFIX ?? 'concord'}-${target}:latest`)]),
  );
  if (process.env.DEPLOY_RESULTS) writeFileSync(process.env.DEPLOY_RESULTS, JSON.stringify(results, null, 2));
  step(`images (bytes): ${JSON.stringify(results.images)}`);
}

main().then(
  () => {
    for (const client of clients) client.close();
    step('passed');
  },
  (error: unknown) => {
    for (const client of clients) client.close();
    process.stderr.write(`[deploy-check] FAILED: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
