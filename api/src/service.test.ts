import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SessionResponse } from '@concord/protocol';
import { statusOf } from '@concord/testkit/src/http';
import { createThrowawayPostgres, type ThrowawayPostgres } from '@concord/testkit/src/postgres';
import { expectEcsLines, ServiceProcess } from '@concord/testkit/src/processes';
import { ThrowawayRedis } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';

/*
 * The API as the process a cluster runs (api/src/main.ts through the service shell), on a
 * PostgreSQL and a Redis of this test's own so they can be stopped: readiness follows both, health
 * does not; requests are logged with a request id and the user, never a password or token.
 */

const METRICS_TOKEN = 'api-metrics-token-0123456789';

let postgres: ThrowawayPostgres;
let redis: ThrowawayRedis;
let dataDir: string;
let api: ServiceProcess;
let ops: string;
let url: string;

beforeAll(async () => {
  [postgres, redis, dataDir] = await Promise.all([createThrowawayPostgres(), ThrowawayRedis.start(), mkdtemp(path.join(tmpdir(), 'concord-api-service-'))]);
  api = new ServiceProcess('api/src/main.ts', {
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `concord-api-service-test:${process.pid}:`,
    CONCORD_DATA_DIR: dataDir,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    METRICS_TOKEN,
    LOG_FORMAT: 'json',
  });
  [ops, url] = await Promise.all([api.loggedUrl('ops endpoints'), api.loggedUrl('api listening')]);
}, 90_000);

afterAll(async () => {
  await api?.kill();
  await Promise.all([postgres?.destroy(), redis?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const readyz = async () => {
  const response = await fetch(`${ops}/readyz`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
};

test('readyz: not ready while PostgreSQL or Redis is stopped, ready again when it returns; healthz stays up', async () => {
  expect(await readyz()).toEqual({ status: 200, body: expect.objectContaining({ ready: true, checks: { database: 'ok', redis: 'ok' } }) });

  await postgres.stop();
  expect(await readyz()).toEqual({ status: 503, body: expect.objectContaining({ ready: false, checks: { database: 'failing', redis: 'ok' } }) });
  expect(await statusOf(`${ops}/healthz`)).toBe(200);
  await postgres.start();
  await eventually(async () => (await readyz()).status === 200, 15_000, 'ready with PostgreSQL back');

  await redis.stop();
  expect(await readyz()).toEqual({ status: 503, body: expect.objectContaining({ ready: false, checks: { database: 'ok', redis: 'failing' } }) });
  expect(await statusOf(`${ops}/healthz`)).toBe(200);
  await redis.start();
  await eventually(async () => (await readyz()).status === 200, 15_000, 'ready with Redis back');
}, 60_000);

test('/metrics on the ops port needs METRICS_TOKEN', async () => {
  expect(await statusOf(`${ops}/metrics`)).toBe(401);
  expect(await statusOf(`${ops}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } })).toBe(401);
  expect(await statusOf(`${ops}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).toBe(200);
});

test('requests are logged with their request id and user, and no password or token reaches the log', async () => {
  const password = 'correct-horse-battery-staple';
  const signUp = await fetch(`${url}/api/auth/local/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'logged_user', password }),
  });
  expect(signUp.status).toBe(201);
  const signIn = await fetch(`${url}/api/auth/local/signin?password=${password}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `session=${password}` },
    body: JSON.stringify({ username: 'logged_user', password }),
  });
  const session = SessionResponse.parse(await signIn.json());
  const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${session.token}`, 'x-request-id': 'test-request-0001' } });
  expect(me.status).toBe(200);
  expect(me.headers.get('x-request-id')).toBe('test-request-0001');
  // A bad token is logged as a 401, without the token either.
  const refused = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${session.token}x`, 'x-request-id': 'bad id with spaces' } });
  expect(refused.status).toBe(401);
  const generatedId = refused.headers.get('x-request-id');
  expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);

  await eventually(async () => api.entries().some((entry) => entry['http.request.id'] === generatedId), 15_000, 'the requests are logged');
  const entries = api.entries();
  expect(entries.find((entry) => entry['http.request.id'] === 'test-request-0001')).toMatchObject({
    message: 'GET /api/me 200',
    'http.request.method': 'GET',
    'url.path': '/api/me',
    'http.response.status_code': 200,
    'user.id': session.user.id,
    'service.name': 'api',
  });
  expect(entries.find((entry) => entry['http.request.id'] === generatedId)).toMatchObject({ 'url.path': '/api/me', 'http.response.status_code': 401 });
  expect(entries.find((entry) => entry['url.path'] === '/api/auth/local/signin')).toMatchObject({ 'http.response.status_code': 200 });
  const log = api.lines().join('\n');
  expect(log).not.toContain(password);
  expect(log).not.toContain(session.token);
  expect(log).not.toContain(session.token.split('.')[2]); // not even the signature alone
});

test('SIGTERM: the API stops cleanly with exit code 0, every line it wrote ECS JSON', async () => {
  api.signal('SIGTERM');
  expect(await api.exited).toEqual({ code: 0, signal: null });
  expectEcsLines(api, 'api');
  expect(api.entries().at(-1)).toMatchObject({ message: expect.stringMatching(/^stopped in \d+ ms$/) });
});
