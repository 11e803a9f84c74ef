import { statusOf } from '@concord/testkit/src/http';
import { expectEcsLines, ServiceProcess } from '@concord/testkit/src/processes';
import { ThrowawayRedis } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';

/*
 * The shell in a real process (service-shell/test/fixture-service.ts): configuration refused with
 * the variable named, the ops endpoints on their own port, readiness following Redis, the metrics
 * token, the stop path, and ECS JSON on every line.
 */

const FIXTURE = 'service-shell/test/fixture-service.ts';
const METRICS_TOKEN = 'fixture-metrics-token-0123';

const started: ServiceProcess[] = [];
const startFixture = (env: Record<string, string>) => {
  const fixture = new ServiceProcess(FIXTURE, { OPS_HOST: '127.0.0.1', LOG_FORMAT: 'json', ...env });
  started.push(fixture);
  return fixture;
};

afterEach(async () => {
  await Promise.all(started.splice(0).map((fixture) => fixture.kill()));
});

test('a bad variable stops the start with exit code 1 and a message naming it', async () => {
  const fixture = startFixture({ OPS_PORT: 'ninety', SHUTDOWN_TIMEOUT_MS: '5' });
  expect(await fixture.exited).toEqual({ code: 1, signal: null });
  expectEcsLines(fixture, 'fixture');
  const messages = fixture.lines().map((line) => (JSON.parse(line) as { message: string }).message);
  expect(messages).toEqual([
    'fixture cannot start: invalid configuration: OPS_PORT must be an integer from 0 to 65535 (got "ninety"); SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 600000 (got "5")',
  ]);
});

test('healthz stays up while readyz follows Redis going away and coming back', async () => {
  const redis = await ThrowawayRedis.start();
  try {
    const fixture = startFixture({ OPS_PORT: '0', FIXTURE_REDIS_URL: redis.url });
    const ops = await fixture.loggedUrl('ops endpoints');
    const readyz = async () => {
      const response = await fetch(`${ops}/readyz`);
      return { status: response.status, body: await response.json() };
    };
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', ready: true, draining: false, checks: { redis: 'ok' } } });
    expect(await (await fetch(`${ops}/healthz`)).json()).toEqual({ status: 'ok' });

    await redis.stop();
    expect(await readyz()).toEqual({ status: 503, body: { status: 'not ready', ready: false, draining: false, checks: { redis: 'failing' } } });
    expect(await statusOf(`${ops}/healthz`)).toBe(200);

    await redis.start();
    await eventually(async () => (await readyz()).status === 200, 15_000, 'readyz is ready again');
    expect(await statusOf(`${ops}/healthz`)).toBe(200);
    // The ops port serves nothing else.
    expect(await statusOf(`${ops}/`)).toBe(404);
    expect(await statusOf(`${ops}/healthz`, { method: 'POST' })).toBe(405);
    fixture.signal('SIGTERM');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expectEcsLines(fixture, 'fixture');
  } finally {
    await redis.stop();
  }
});

test('with METRICS_TOKEN, /metrics refuses a missing or wrong token and serves the registry for the right one', async () => {
  const fixture = startFixture({ OPS_PORT: '0', METRICS_TOKEN });
  const ops = await fixture.loggedUrl('ops endpoints');
  expect(await statusOf(`${ops}/metrics`)).toBe(401);
  expect(await statusOf(`${ops}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).toBe(401);
  expect(await statusOf(`${ops}/metrics`, { headers: { authorization: METRICS_TOKEN } })).toBe(401);
  const response = await fetch(`${ops}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  expect(await response.text()).toMatch(/^process_cpu_user_seconds_total \d/m);
  // Health needs no token: probes carry none.
  expect(await statusOf(`${ops}/healthz`)).toBe(200);
});

test('SIGTERM: not ready at once, the drain step runs to its end, exit 0 within the deadline', async () => {
  const fixture = startFixture({ OPS_PORT: '0', FIXTURE_DRAIN_MS: '1500', SHUTDOWN_TIMEOUT_MS: '5000' });
  const ops = await fixture.loggedUrl('ops endpoints');
  expect(await statusOf(`${ops}/readyz`)).toBe(200);
  const signalled = Date.now();
  fixture.signal('SIGTERM');
  await eventually(async () => fixture.lines().some((line) => line.includes('"draining"')), 5_000, 'the drain started');
  expect(await statusOf(`${ops}/readyz`)).toBe(503);
  expect(await statusOf(`${ops}/healthz`)).toBe(200);
  expect(await fixture.exited).toEqual({ code: 0, signal: null });
  const elapsed = Date.now() - signalled;
  expect(elapsed).toBeGreaterThanOrEqual(1_500);
  expect(elapsed).toBeLessThan(5_000);
  const messages = fixture.lines().map((line) => (JSON.parse(line) as { message: string }).message);
  expect(messages.slice(-4)).toEqual(['stopping (SIGTERM)', 'draining', 'drained', expect.stringMatching(/^stopped in \d+ ms$/)]);
  expectEcsLines(fixture, 'fixture');
});

test('a drain longer than SHUTDOWN_TIMEOUT_MS is cut short at the deadline with exit code 1', async () => {
  const fixture = startFixture({ OPS_PORT: '0', FIXTURE_DRAIN_MS: '30000', SHUTDOWN_TIMEOUT_MS: '1000' });
  await fixture.loggedUrl('ops endpoints');
  const signalled = Date.now();
  fixture.signal('SIGINT');
  expect(await fixture.exited).toEqual({ code: 1, signal: null });
  expect(Date.now() - signalled).toBeLessThan(5_000);
  expect(fixture.lines().at(-1)).toContain('stop did not finish within SHUTDOWN_TIMEOUT_MS (1000 ms)');
  expectEcsLines(fixture, 'fixture');
});
