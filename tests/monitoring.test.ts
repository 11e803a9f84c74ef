import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import puppeteer from 'puppeteer-core';
import { SessionResponse, VoiceGrantResponse } from '@concord/protocol';
import { CHROMIUM, CHROMIUM_ARGS } from '@concord/testkit/src/browser';
import { freePortBase } from '@concord/testkit/src/ports';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { expectEcsLines, ServiceProcess } from '@concord/testkit/src/processes';
import { deleteKeys } from '@concord/testkit/src/redis';
import { opusRtpParameters } from '@concord/testkit/src/sfu';
import { VoiceClient, type User } from '@concord/testkit/src/voice-client';
import { eventually } from '@concord/testkit/src/wait';

/*
 * The monitoring as shipped, against the cluster as deployed: API, two signaling and two SFU
 * processes on PostgreSQL and Redis carry a short call and some chat; Prometheus (Debian's
 * package) scrapes their ops endpoints with the shipped scrape configuration (ports substituted)
 * and loads the shipped alert rules; then every PromQL expression of the shipped dashboards and
 * alert rules must return at least one series. promtool checks the configuration and runs the
 * alert rules' unit tests. With MONITORING_SCREENSHOTS=1 it also renders Prometheus graphs of
 * key expressions into docs/screenshots/monitoring/ (no Grafana renderer is packaged here).
 */

const ROOT = path.resolve(__dirname, '..');
const MONITORING = path.join(ROOT, 'docker/monitoring');
const DASHBOARDS = path.join(MONITORING, 'grafana/dashboards');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `concord-monitoring-test:${process.pid}:${Date.now()}:`;
const SECRET = 'monitoring-test-secret-0123456789';
const READY_TIMEOUT_MS = 40_000;
const SCRAPE_INTERVAL = '1s';
/** What Grafana's `$__rate_interval` becomes here: several scrapes at SCRAPE_INTERVAL. */
const RATE_INTERVAL = '1m';
const execFileAsync = promisify(execFile);

const processes: ServiceProcess[] = [];
const clients: VoiceClient[] = [];
let prometheus: ChildProcess | undefined;
let prometheusOutput = '';
let prometheusUrl = '';
let apiUrl = '';
let signalingUrls: string[] = [];
let workDir = '';
let database: TestDatabase | undefined;
/** Each service's ops endpoint, by Prometheus job. */
let targets: Record<string, string[]> = {};

async function api(method: 'GET' | 'POST', route: string, body?: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${apiUrl}${route}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

async function ok(method: 'GET' | 'POST', route: string, body?: unknown, token?: string): Promise<unknown> {
  const { status, json } = await api(method, route, body, token);
  if (status >= 300) throw new Error(`${method} ${route} answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

async function signUp(username: string): Promise<User> {
  const session = SessionResponse.parse(await ok('POST', '/api/auth/local/signup', { username, password: 'correct horse battery' }));
  return { id: session.user.id, name: username, token: session.token };
}

const answersOk = (url: string): Promise<boolean> =>
  fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
    (response) => response.ok,
    () => false,
  );

async function promQuery(query: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

/** The shipped scrape configuration with this run's targets and a fast scrape. */
function scrapeConfig(shipped: string): string {
  let config = shipped.replace(/scrape_interval: \S+/, `scrape_interval: ${SCRAPE_INTERVAL}`).replace(/evaluation_interval: \S+/, `evaluation_interval: ${SCRAPE_INTERVAL}`);
  for (const [job, endpoints] of Object.entries(targets)) {
    const pattern = new RegExp(`(job_name: ${job}\\n\\s+static_configs:\\n\\s+- targets: )\\[[^\\]]*\\]`);
    if (!pattern.test(config)) throw new Error(`the shipped prometheus.yml has no static targets for ${job}`);
    config = config.replace(pattern, `$1[${endpoints.map((endpoint) => `'${endpoint}'`).join(', ')}]`);
  }
  return config;
}

/** Every expression of the shipped dashboards: panel targets and template variable queries. */
async function dashboardExpressions(): Promise<{ where: string; expr: string }[]> {
  const found: { where: string; expr: string }[] = [];
  for (const file of (await readdir(DASHBOARDS)).filter((name) => name.endsWith('.json'))) {
    const dashboard = JSON.parse(await readFile(path.join(DASHBOARDS, file), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; query: { query: string } }[] };
    };
    for (const panel of dashboard.panels) for (const target of panel.targets ?? []) found.push({ where: `${file} "${panel.title}"`, expr: target.expr });
    // Grafana's label_values(metric, label) lists the label's values of the metric's series.
    for (const variable of dashboard.templating.list) {
      found.push({ where: `${file} $${variable.name}`, expr: variable.query.query.replace(/^label_values\((.+),\s*\w+\)$/, '$1') });
    }
  }
  return found.map(({ where, expr }) => ({ where, expr: expr.replaceAll('$__rate_interval', RATE_INTERVAL).replace(/\$\w+/g, '.+') }));
}

/**
 * An alert's condition filters its signal (`… > 0.85`, `up == 0`); in a healthy cluster that
 * leaves nothing. What must exist is the signal: the expression with its comparisons against
 * numbers taken out. (Whether each condition fires when it should is alerts.test.yml's part.)
 */
const alertSignal = (expr: string): string => expr.replace(/\s*(>=|<=|==|!=|>|<)\s*-?[\d.]+(e-?\d+)?/g, '');

beforeAll(async () => {
  const base = await freePortBase(12);
  const ports = {
    api: base,
    control: [base + 1, base + 2],
    signaling: [base + 3, base + 4],
    rtc: [base + 5, base + 6],
    ops: { api: base + 7, signaling: [base + 8, base + 9], sfu: [base + 10, base + 11] },
  };
  const prometheusPort = await freePortBase(1);
  prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  apiUrl = `http://127.0.0.1:${ports.api}`;
  signalingUrls = ports.signaling.map((port) => `http://127.0.0.1:${port}`);
  workDir = await mkdtemp(path.join(tmpdir(), 'concord-monitoring-'));
  database = await createTestDatabase();
  const loopback = (port: number) => `127.0.0.1:${port}`;
  targets = {
    'concord-api': [loopback(ports.ops.api)],
    'concord-signaling': ports.ops.signaling.map(loopback),
    'concord-sfu': ports.ops.sfu.map(loopback),
  };
  const shared = { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, LOG_LEVEL: 'info', OPS_HOST: '127.0.0.1' };
  processes.push(
    new ServiceProcess('api/src/main.ts', {
      ...shared,
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      OPS_PORT: String(ports.ops.api),
      CONCORD_DATA_DIR: workDir,
      DATABASE_URL: database.url,
      AUTH_RATE_LIMIT: '1000',
    }, 'api'),
    ...['sfu-a', 'sfu-b'].map(
      (id, i) =>
        new ServiceProcess('sfu/src/main.ts', {
          ...shared,
          SFU_NODE_ID: id,
          SFU_WORKERS: '1',
          SFU_RTC_PORT_BASE: String(ports.rtc[i]),
          SFU_LISTEN_IP: '127.0.0.1',
          SFU_CONTROL_PORT: String(ports.control[i]),
          SFU_CONTROL_HOST: '127.0.0.1',
          SFU_SECRET: SECRET,
          OPS_PORT: String(ports.ops.sfu[i]),
        }, id),
    ),
    ...ports.signaling.map(
      (port, i) =>
        new ServiceProcess('signaling/src/main.ts', {
          ...shared,
          SIGNALING_ID: `signaling-${i + 1}`,
          SIGNALING_HOST: '127.0.0.1',
          SIGNALING_PORT: String(port),
          API_JWKS_URL: `${apiUrl}/api/.well-known/jwks.json`,
          SFU_SECRET: SECRET,
          OPS_PORT: String(ports.ops.signaling[i]),
        }, `signaling-${i + 1}`),
    ),
  );
  // Ready: each process's own readiness (database, Redis, workers) passes.
  const opsEndpoints = Object.values(targets).flat();
  await eventually(async () => {
    for (const proc of processes) if (!proc.running) throw new Error(`${proc.name} exited:${proc.report()}`);
    return (await Promise.all(opsEndpoints.map((endpoint) => answersOk(`http://${endpoint}/readyz`)))).every(Boolean);
  }, READY_TIMEOUT_MS);
}, READY_TIMEOUT_MS + 10_000);

afterAll(async () => {
  for (const client of clients) client.close();
  prometheus?.kill('SIGTERM');
  for (const proc of processes) proc.crash();
  await Promise.all(processes.map((proc) => proc.waitForExit(5_000).catch(() => undefined)));
  if (prometheus && prometheus.exitCode === null) await new Promise((resolve) => prometheus!.once('exit', resolve));
  await deleteKeys(PREFIX, REDIS_URL);
  if (workDir) await rm(workDir, { recursive: true, force: true });
  await database?.drop();
}, 30_000);

test('promtool: the shipped scrape configuration is valid and the alert rules pass their unit tests', async () => {
  const check = await execFileAsync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: MONITORING });
  expect(check.stdout).toMatch(/SUCCESS: 9 rules found/);
  const test = await execFileAsync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: MONITORING });
  expect(test.stdout).toMatch(/SUCCESS/);
});

test('after a call and some chat, every PromQL expression of the dashboards and alert rules returns a series', async () => {
  // Chat: messages, a duplicate refused by its rate limit, a wrong password.
  const [alice, bob] = [await signUp('alice'), await signUp('bob')];
  const server = (await ok('POST', '/api/servers', { name: 'monitored' }, alice.token)) as { id: string };
  const invite = (await ok('POST', `/api/servers/${server.id}/invites`, {}, alice.token)) as { code: string };
  await ok('POST', `/api/invites/${invite.code}/accept`, {}, bob.token);
  const channels = (await ok('GET', `/api/servers/${server.id}/channels`, undefined, alice.token)) as { id: string; kind: string }[];
  const text = channels.find((channel) => channel.kind === 'text')!.id;
  const voice = channels.find((channel) => channel.kind === 'voice')!.id;
  for (const content of ['hello', 'hi alice', 'again', 'again', 'again']) await ok('POST', `/api/channels/${text}/messages`, { content }, alice.token);
  expect((await api('POST', `/api/channels/${text}/messages`, { content: 'again' }, alice.token)).status).toBe(429);
  expect((await api('POST', '/api/auth/local/signin', { username: 'alice', password: 'not her password' })).status).toBe(401);

  // A call: alice through one signaling process, bob through the other; alice speaks, bob listens.
  const join = async (user: User, signaling: string) => {
    const client = new VoiceClient(user, signaling);
    clients.push(client);
    await client.connected();
    const { grant } = VoiceGrantResponse.parse(await ok('POST', '/api/voice/grant', { roomId: voice }, user.token));
    return { client, joined: await client.request('voice:join', { grant }) };
  };
  const listener = await join(bob, signalingUrls[1]!);
  await listener.client.request('voice:createTransport', { direction: 'recv' });
  await listener.client.request('voice:setRtpCapabilities', { rtpCapabilities: listener.joined.routerRtpCapabilities });
  const speaker = await join(alice, signalingUrls[0]!);
  const send = await speaker.client.request('voice:createTransport', { direction: 'send' });
  const { producerId } = await speaker.client.request('voice:produce', { transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters(4321) });
  await listener.client.waitFor('voice:newConsumer', (consumer) => consumer.producerId === producerId);
  expect((await speaker.client.attempt('voice:join', { grant: 'not-a-grant' })).ok).toBe(false);

  // Prometheus with the shipped configuration, this run's targets and the shipped rules.
  const configDir = path.join(workDir, 'prometheus');
  await mkdir(configDir);
  await writeFile(path.join(configDir, 'prometheus.yml'), scrapeConfig(await readFile(path.join(MONITORING, 'prometheus.yml'), 'utf8')));
  await copyFile(path.join(MONITORING, 'alerts.yml'), path.join(configDir, 'alerts.yml'));
  await execFileAsync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: configDir });
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${path.join(configDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(workDir, 'tsdb')}`,
      `--web.listen-address=${new URL(prometheusUrl).host}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString()));
  prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString()));
  await eventually(() => answersOk(`${prometheusUrl}/-/ready`), 20_000).catch(() => {
    throw new Error(`Prometheus did not start:\n${prometheusOutput}`);
  });

  // Every target is up, then a few more scrapes so that rates have points to work with.
  const endpoints = Object.values(targets).flat().length;
  await eventually(async () => {
    const result = (await promQuery('up{job=~"concord-.*"} == 1')).data?.result ?? [];
    return result.length === endpoints;
  }, 20_000).catch(async () => {
    const response = await fetch(`${prometheusUrl}/api/v1/targets`);
    throw new Error(`not every target is up: ${await response.text()}`);
  });
  await new Promise((resolve) => setTimeout(resolve, 6_000));

  const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
    data: { groups: { rules: { name: string; query: string; health: string }[] }[] };
  };
  const alerts = rules.data.groups.flatMap((group) => group.rules);
  expect(alerts.length).toBe(9);
  const expressions = [
    ...(await dashboardExpressions()),
    ...alerts.map((rule) => ({ where: `alert ${rule.name}`, expr: alertSignal(rule.query) })),
  ];
  expect(expressions.length).toBeGreaterThan(50);

  const empty: string[] = [];
  for (const { where, expr } of expressions) {
    const answer = await promQuery(expr);
    if (answer.status !== 'success') empty.push(`${where}: ${answer.error} in ${expr}`);
    else if ((answer.data?.result.length ?? 0) === 0) empty.push(`${where}: no series for ${expr}`);
  }
  expect(empty).toEqual([]);
  // The full alert conditions evaluate (to nothing, in a healthy cluster).
  for (const rule of alerts) expect({ alert: rule.name, health: rule.health }).toEqual({ alert: rule.name, health: 'ok' });
  for (const rule of alerts) expect({ alert: rule.name, status: (await promQuery(rule.query)).status }).toEqual({ alert: rule.name, status: 'success' });
  expect((await promQuery('ALERTS{alertstate="firing"}')).data?.result).toEqual([]);

  if (process.env.MONITORING_SCREENSHOTS) await screenshots();
}, 120_000);

test('every log line of the cluster is ECS JSON: service, node, and the request, user and room where there is one', () => {
  const service = (proc: ServiceProcess) => (proc.name.startsWith('sfu') ? 'sfu' : proc.name.startsWith('signaling') ? 'signaling' : 'api');
  for (const proc of processes) expectEcsLines(proc, service(proc));
  const nodeNames = new Set(processes.map((proc) => proc.entries()[0]!['service.node.name']));
  expect(nodeNames.size).toBe(processes.length);
  // The API's request lines carry the request id, and the user once signed in.
  const requests = processes.find((proc) => proc.name === 'api')!.entries().filter((entry) => 'http.request.id' in entry);
  expect(requests.length).toBeGreaterThan(10);
  expect(requests.filter((entry) => String(entry['url.path']).startsWith('/api/channels/') && 'user.id' in entry).length).toBeGreaterThan(0);
  // Media events name their room (never as a metric label, only in logs).
  const joins = processes.filter((proc) => proc.name.startsWith('signaling')).flatMap((proc) => proc.entries()).filter((entry) => entry.message === 'peer joined room');
  expect(joins.length).toBe(2);
  for (const join of joins) expect(join).toMatchObject({ roomId: expect.any(String), nodeId: expect.stringMatching(/^sfu-[ab]$/) });
});

/** Prometheus's graph page for key expressions, as docs/operations.md shows them. */
async function screenshots(): Promise<void> {
  const shots: [string, string][] = [
    ['prometheus-sfu-streams.png', 'sum by (node) (concord_sfu_streams)'],
    ['prometheus-signaling-requests.png', 'sum by (event, result) (concord_signaling_request_duration_seconds_count)'],
    ['prometheus-api-requests.png', 'sum by (route, status) (concord_api_http_request_duration_seconds_count)'],
    ['prometheus-readiness.png', 'concord_readiness_check_up'],
  ];
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, userDataDir: path.join(workDir, 'chromium') });
  try {
    for (const [file, expr] of shots) {
      const query = new URLSearchParams({ 'g0.expr': expr, 'g0.tab': '0', 'g0.range_input': '30s' });
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 800 });
      await page.goto(`${prometheusUrl}/graph?${query}`, { waitUntil: 'networkidle0' });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await page.screenshot({ path: path.join(ROOT, 'docs/screenshots/monitoring', file) });
      await page.close();
    }
  } finally {
    await browser.close();
  }
}
