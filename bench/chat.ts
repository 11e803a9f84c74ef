/**
 * `npm run bench:chat`: chat delivery through the real platform, against a bare socket.io
 * broadcast of the same payloads to the same number of clients, in one run, on loopback only.
 *
 * Processes: the API (bench/api-host.ts: startApi on PostgreSQL — DATABASE_URL, in a throwaway
 * database of that server, or embedded PGlite without it), signaling (signaling/src/main.ts, with
 * Redis; without REDIS_URL the embedded default runs it inside the API process and delivers
 * in-process), the bare socket.io server (bench/bare-server.ts), and this process, which holds
 * every client socket and times arrivals on one clock.
 *
 * For each client count N (default 100 and 1000), on a server of its own with N members:
 *  1. API throughput with nobody connected: one sender back to back, then C concurrent senders,
 *     for a fixed time each (messages/s of one API instance; fan-out to sockets excluded).
 *  2. Signaling's resident memory before and after N authenticated sockets connect.
 *  3. Latency, closed loop: a message is POSTed (201), and the time until all N clients have it is
 *     taken from the 201 (accepted → delivered) and from the send; then the same payload goes
 *     through the bare broadcast to N sockets of its own, timed the same way (acknowledged, then
 *     emitted). Alternating, so both see the same machine state.
 *
 * Options: --clients 100,1000  --messages 100  --seconds 5  --concurrency 16  --json <file>  --cpu-prof <dir> (--help)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { deleteKeys } from '@concord/testkit/src/redis';
import { loadSigningKeys, type SigningKeys } from '../api/src/keys';
import { parseCommandLine, runCli, UsageError } from '../scripts/cli';
import type { HostReply, HostRequest } from './api-host';

const ROOT = path.resolve(__dirname, '..');
const CONNECT_BATCH = 50;
const DELIVERY_TIMEOUT_MS = 10_000;
const WARMUP_MESSAGES = 5;
const CONTENT_PAD = 'lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore';

// ---------- options ----------

interface Options {
  clients: number[];
  messages: number;
  seconds: number;
  concurrency: number;
  json?: string;
  /** Where the API process writes a V8 CPU profile (node --cpu-prof) when it stops. */
  cpuProf?: string;
}

const USAGE = `DATABASE_URL=postgres://… REDIS_URL=redis://… npm run bench:chat -- [options]
(both variables optional: without them the API uses embedded PGlite and delivers in-process)

  --clients N,N     socket.io clients per phase, comma separated (default 100,1000; each 1..5000)
  --messages N      latency samples per phase (default 100)
  --seconds S       each throughput measurement (default 5)
  --concurrency N   concurrent senders in the throughput measurement (default 16)
  --json FILE       also write the results as JSON
  --cpu-prof DIR    profile the API process (node --cpu-prof) into DIR, written when it stops
`;

function parseOptions(args: string[]): Options {
  const { values } = parseCommandLine({
    args,
    options: { clients: { type: 'string' }, messages: { type: 'string' }, seconds: { type: 'string' }, concurrency: { type: 'string' }, json: { type: 'string' }, 'cpu-prof': { type: 'string' } },
  });
  const int = (name: 'messages' | 'seconds' | 'concurrency', fallback: number, min: number, max: number) => {
    const value = values[name] === undefined ? fallback : Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
    return value;
  };
  const clients = (values.clients ?? '100,1000').split(',').map((n) => Number(n.trim()));
  if (clients.some((n) => !Number.isInteger(n) || n < 1 || n > 5_000)) throw new UsageError('--clients takes counts in 1..5000, comma separated');
  return {
    clients,
    messages: int('messages', 100, 1, 10_000),
    seconds: int('seconds', 5, 1, 120),
    concurrency: int('concurrency', 16, 1, 256),
    ...(values.json && { json: values.json }),
    ...(values['cpu-prof'] && { cpuProf: path.resolve(values['cpu-prof']) }),
  };
}

// ---------- output ----------

const progress = (text: string) => process.stderr.write(`\r\x1b[2K  ${text}`);
const step = (text: string) => process.stderr.write(`\r\x1b[2K▸ ${text}\n`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

interface Summary {
  samples: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function summarise(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length);
  return { samples: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean, max: sorted.at(-1) ?? NaN };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---------- processes ----------

interface Child {
  process: ChildProcess;
  output: string[];
  name: string;
}

/** A TypeScript entry point in a node process of its own (`node --import tsx`, so its pid is the server's). */
function spawnScript(name: string, script: string, env: NodeJS.ProcessEnv, nodeOptions: string[] = []): Child {
  const child = fork(path.join(ROOT, script), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...nodeOptions],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { process: child, output, name };
}

function untilMessage<T extends HostReply['type']>(child: Child, type: T, timeoutMs: number): Promise<Extract<HostReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${child.name}: no ${type} within ${timeoutMs} ms\n${child.output.join('')}`)), timeoutMs);
    const onMessage = (reply: HostReply) => {
      if (reply.type === 'error') done(new Error(`${child.name}: ${reply.message}`));
      else if (reply.type === type) done(undefined, reply as Extract<HostReply, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`${child.name} exited (${code}) before ${type}\n${child.output.join('')}`));
    const done = (error?: Error, reply?: Extract<HostReply, { type: T }>) => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
      if (error) reject(error);
      else resolve(reply!);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}

async function untilOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = pattern.exec(child.output.join(''));
    if (match) return match;
    if (child.process.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${child.name} did not start within ${timeoutMs} ms\n${child.output.join('')}`);
}

async function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
  if (child.process.connected) child.process.send({ type: 'stop' } satisfies HostRequest);
  else child.process.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(8_000).then(() => false)]);
  if (!killed) {
    child.process.kill('SIGKILL');
    await exited;
  }
}

/** CPU time (user + system) a process has used, from /proc (Linux; clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident memory of a process, from /proc (Linux). */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

// ---------- clients ----------

interface Arrivals {
  first: number;
  last: number;
}

/** Arrival times of messages by id, across every socket of one kind. */
class Deliveries {
  private readonly arrivals = new Map<string, { count: number; first: number; last: number }>();
  private readonly waiters = new Map<string, { expected: number; resolve: (times: Arrivals | undefined) => void }>();
  total = 0;

  arrived(id: string): void {
    const now = performance.now();
    this.total += 1;
    const entry = this.arrivals.get(id) ?? { count: 0, first: now, last: now };
    entry.count += 1;
    entry.last = now;
    this.arrivals.set(id, entry);
    const waiter = this.waiters.get(id);
    if (waiter && entry.count >= waiter.expected) {
      this.waiters.delete(id);
      waiter.resolve({ first: entry.first, last: entry.last });
    }
  }

  /** When the first and the last of `expected` sockets had message `id`; undefined if they had not all within the timeout. */
  allOf(id: string, expected: number, timeoutMs = DELIVERY_TIMEOUT_MS): Promise<Arrivals | undefined> {
    const entry = this.arrivals.get(id);
    if (entry && entry.count >= expected) return Promise.resolve({ first: entry.first, last: entry.last });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(id, {
        expected,
        resolve: (times) => {
          clearTimeout(timer);
          resolve(times);
        },
      });
    });
  }

  forget(id: string): void {
    this.arrivals.delete(id);
  }
}

function connect(url: string, token: string | undefined, deliveries: Deliveries): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 30_000, ...(token && { auth: { token } }) });
    socket.on('message:created', (message: { id?: unknown }) => {
      if (typeof message?.id === 'string') deliveries.arrived(message.id);
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

async function connectAll(label: string, url: string, tokens: (string | undefined)[], deliveries: Deliveries): Promise<Socket[]> {
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < tokens.length; i += CONNECT_BATCH) {
      sockets.push(...(await Promise.all(tokens.slice(i, i + CONNECT_BATCH).map((token) => connect(url, token, deliveries)))));
      progress(`${label}: ${sockets.length}/${tokens.length} connected`);
    }
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw error;
  }
  return sockets;
}

async function disconnectAll(sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.close();
  await sleep(500);
}

// ---------- HTTP ----------

async function post(url: string, token: string | undefined, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

// ---------- phases ----------

interface ThroughputResult {
  senders: number;
  seconds: number;
  accepted: number;
  errors: number;
  perSecond: number;
  post: Summary;
  /** CPU time (user + system) the API process spent per accepted message: unlike messages/s, little moved by other jobs on the machine. */
  apiCpuMsPerMessage: number;
}

/** `senders` loops POSTing messages back to back for `seconds`; counts 201s. */
async function throughput(apiUrl: string, apiPid: number, channelId: string, tokens: string[], seconds: number, label: string): Promise<ThroughputResult> {
  const cpuBefore = await cpuMs(apiPid);
  const url = `${apiUrl}/api/channels/${channelId}/messages`;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const durations: number[] = [];
  let accepted = 0;
  let errors = 0;
  let sent = 0;
  const ticker = setInterval(() => progress(`${label}: ${accepted} accepted, ${((accepted * 1000) / (performance.now() - started)).toFixed(0)}/s`), 250);
  await Promise.all(
    tokens.map(async (token, sender) => {
      for (let i = 0; performance.now() < deadline && i < 1_000_000; i++) {
        const t0 = performance.now();
        const reply = await post(url, token, { content: `throughput ${sender}:${i} ${CONTENT_PAD}` }).catch(() => ({ status: 0, json: undefined }));
        durations.push(performance.now() - t0);
        sent += 1;
        if (reply.status === 201) accepted += 1;
        else errors += 1;
      }
    }),
  );
  clearInterval(ticker);
  const elapsed = (performance.now() - started) / 1000;
  const apiCpuMsPerMessage = ((await cpuMs(apiPid)) - cpuBefore) / Math.max(1, accepted);
  void sent;
  return { senders: tokens.length, seconds: elapsed, accepted, errors, perSecond: accepted / elapsed, post: summarise(durations), apiCpuMsPerMessage };
}

interface LatencyResult {
  ackToFirst: Summary;
  ackToAll: Summary;
  sendToAll: Summary;
  post: Summary;
  lost: number;
}

interface PhaseResult {
  clients: number;
  memory: { signalingBefore: number; signalingAfter: number; bareBefore: number; bareAfter: number };
  concord: LatencyResult;
  bare: LatencyResult;
  sequential: ThroughputResult;
  concurrent: ThroughputResult;
}

async function runPhase(
  n: number,
  options: Options,
  ctx: { host: Child; apiUrl: string; signalingUrl: string; signalingPid: number; bareUrl: string; barePid: number; keys: SigningKeys },
): Promise<PhaseResult> {
  step(`N = ${n}: seeding a server with ${n} members`);
  ctx.host.process.send({ type: 'seed', members: n, tag: `n${n}-` } satisfies HostRequest);
  const seeded = await untilMessage(ctx.host, 'seeded', 60_000);
  const tokens = seeded.tokens;
  const owner = tokens[0]!;

  step(`N = ${n}: API throughput, nobody connected (${options.seconds} s sequential, ${options.seconds} s with ${options.concurrency} senders)`);
  // Warm-up (JIT, caches, pools), not counted.
  const apiPid = ctx.host.process.pid!;
  await throughput(ctx.apiUrl, apiPid, seeded.channelId, tokens.slice(0, Math.min(options.concurrency, tokens.length)), 1, 'warm-up');
  const sequential = await throughput(ctx.apiUrl, apiPid, seeded.channelId, [owner], options.seconds, 'sequential');
  const concurrent = await throughput(ctx.apiUrl, apiPid, seeded.channelId, tokens.slice(0, Math.min(options.concurrency, tokens.length)), options.seconds, 'concurrent');
  step(`N = ${n}: ${sequential.perSecond.toFixed(0)} msg/s sequential, ${concurrent.perSecond.toFixed(0)} msg/s with ${concurrent.senders} senders`);

  // A few sockets come and go first, so that what every connection needs once is in place before measuring.
  await disconnectAll(await connectAll(`N = ${n}: warm-up sockets`, ctx.signalingUrl, tokens.slice(0, 20), new Deliveries()));
  await disconnectAll(await connectAll(`N = ${n}: warm-up sockets`, ctx.bareUrl, tokens.slice(0, 20).map(() => undefined), new Deliveries()));
  await sleep(1_000);
  const signalingBefore = await rssBytes(ctx.signalingPid);
  const bareBefore = await rssBytes(ctx.barePid);
  const concordDeliveries = new Deliveries();
  const bareDeliveries = new Deliveries();
  const concordSockets = await connectAll(`N = ${n}: signaling`, ctx.signalingUrl, tokens, concordDeliveries);
  const bareSockets = await connectAll(`N = ${n}: bare socket.io`, ctx.bareUrl, tokens.map(() => undefined), bareDeliveries);
  await sleep(1_500);
  const memory = { signalingBefore, signalingAfter: await rssBytes(ctx.signalingPid), bareBefore, bareAfter: await rssBytes(ctx.barePid) };
  step(`N = ${n}: ${n} + ${n} sockets connected; signaling RSS ${mib(memory.signalingBefore)} → ${mib(memory.signalingAfter)}`);

  const messagesUrl = `${ctx.apiUrl}/api/channels/${seeded.channelId}/messages`;
  const concord = { first: [] as number[], ack: [] as number[], send: [] as number[], post: [] as number[], lost: 0 };
  const bare = { first: [] as number[], ack: [] as number[], send: [] as number[], post: [] as number[], lost: 0 };
  try {
    const total = WARMUP_MESSAGES + options.messages;
    for (let i = 0; i < total; i++) {
      const record = i >= WARMUP_MESSAGES;
      // Through the platform: POST → 201 → (API publishes) → every member's socket.
      const content = `latency ${n}:${i} ${CONTENT_PAD}`;
      const t0 = performance.now();
      const reply = await post(messagesUrl, owner, { content });
      const t1 = performance.now();
      if (reply.status !== 201) throw new Error(`send answered ${reply.status}: ${JSON.stringify(reply.json)}`);
      const lastConcord = await concordDeliveries.allOf(reply.json.id, n);
      concordDeliveries.forget(reply.json.id);
      if (record) {
        concord.post.push(t1 - t0);
        if (lastConcord === undefined) concord.lost += 1;
        else {
          concord.first.push(lastConcord.first - t1);
          concord.ack.push(lastConcord.last - t1);
          concord.send.push(lastConcord.last - t0);
        }
      }

      // The same payload through the bare broadcast.
      const payload = { ...reply.json, id: `bare-${reply.json.id}` };
      const b0 = performance.now();
      const bareReply = await post(`${ctx.bareUrl}/broadcast`, undefined, payload);
      const b1 = performance.now();
      if (bareReply.status !== 204) throw new Error(`bare broadcast answered ${bareReply.status}`);
      const lastBare = await bareDeliveries.allOf(payload.id, n);
      bareDeliveries.forget(payload.id);
      if (record) {
        bare.post.push(b1 - b0);
        if (lastBare === undefined) bare.lost += 1;
        else {
          bare.first.push(lastBare.first - b1);
          bare.ack.push(lastBare.last - b1);
          bare.send.push(lastBare.last - b0);
        }
      }
      progress(`N = ${n}: latency ${Math.max(0, i - WARMUP_MESSAGES + 1)}/${options.messages}${record ? '' : ' (warm-up)'}`);
    }
  } finally {
    await disconnectAll([...concordSockets, ...bareSockets]);
  }
  const result = (r: typeof concord): LatencyResult => ({ ackToFirst: summarise(r.first), ackToAll: summarise(r.ack), sendToAll: summarise(r.send), post: summarise(r.post), lost: r.lost });
  const phase: PhaseResult = { clients: n, memory, concord: result(concord), bare: result(bare), sequential, concurrent };
  step(
    `N = ${n}: accepted → all delivered p50 ${ms(phase.concord.ackToAll.p50)} ms (bare ${ms(phase.bare.ackToAll.p50)} ms), p99 ${ms(phase.concord.ackToAll.p99)} ms (bare ${ms(phase.bare.ackToAll.p99)} ms)`,
  );
  return phase;
}

// ---------- report ----------

function report(results: PhaseResult[], setup: Record<string, string>, options: Options): string {
  const lines: string[] = [];
  lines.push('## Setup', '');
  for (const [key, value] of Object.entries(setup)) lines.push(`- ${key}: ${value}`);
  lines.push('', `## Delivery latency (ms), ${options.messages} messages per path and client count, closed loop`, '');
  lines.push('| clients | path | accepted → all delivered p50 | p99 | accepted → first delivered p50 | send → all delivered p50 | p99 | POST p50 | lost |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const [name, l] of [
      ['Concord: API → ' + (setup.mode?.startsWith('cluster') ? 'Redis → signaling' : 'in-process signaling'), r.concord],
      ['bare socket.io broadcast', r.bare],
    ] as const) {
      lines.push(`| ${r.clients} | ${name} | ${ms(l.ackToAll.p50)} | ${ms(l.ackToAll.p99)} | ${ms(l.ackToFirst.p50)} | ${ms(l.sendToAll.p50)} | ${ms(l.sendToAll.p99)} | ${ms(l.post.p50)} | ${l.lost} |`);
    }
    lines.push(
      `| ${r.clients} | ratio Concord / bare | ${ratio(r.concord.ackToAll.p50, r.bare.ackToAll.p50)} | ${ratio(r.concord.ackToAll.p99, r.bare.ackToAll.p99)} | ${ratio(r.concord.ackToFirst.p50, r.bare.ackToFirst.p50)} | ${ratio(r.concord.sendToAll.p50, r.bare.sendToAll.p50)} | ${ratio(r.concord.sendToAll.p99, r.bare.sendToAll.p99)} | | |`,
    );
  }
  lines.push('', '## Resident memory per connected client', '');
  lines.push('| clients | signaling RSS before | after | per client | bare socket.io per client |');
  lines.push('|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const m = r.memory;
    lines.push(
      `| ${r.clients} | ${mib(m.signalingBefore)} | ${mib(m.signalingAfter)} | ${((m.signalingAfter - m.signalingBefore) / r.clients / 1024).toFixed(1)} KiB | ${((m.bareAfter - m.bareBefore) / r.clients / 1024).toFixed(1)} KiB |`,
    );
  }
  lines.push('', '## API throughput, one instance (messages accepted per second; members of the channel, none connected)', '');
  lines.push('| members | senders | seconds | accepted | errors | messages/s | POST p50 ms | POST p99 ms | API CPU ms per message |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const t of [r.sequential, r.concurrent]) {
      lines.push(`| ${r.clients} | ${t.senders} | ${t.seconds.toFixed(1)} | ${t.accepted} | ${t.errors} | ${t.perSecond.toFixed(0)} | ${ms(t.post.p50)} | ${ms(t.post.p99)} | ${t.apiCpuMsPerMessage.toFixed(2)} |`);
    }
  }
  return lines.join('\n');
}

// ---------- main ----------

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const databaseUrl = process.env.DATABASE_URL?.trim() || undefined;
  const redisUrl = process.env.REDIS_URL?.trim() || undefined;
  for (const url of [databaseUrl, redisUrl]) {
    if (url && !['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error(`the benchmark runs on loopback only; ${url} is not`);
  }
  const run = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-bench-'));
  const keyPrefix = `concord-bench:${run}:`;
  const children: Child[] = [];
  let benchDatabase: string | undefined;
  let adminClient: pg.Client | undefined;

  const setup: Record<string, string> = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${mib(totalmem())} RAM`,
    node: process.version,
    'load average at start (1 min)': loadavg()[0]!.toFixed(2),
    command: `npm run bench:chat -- --clients ${options.clients.join(',')} --messages ${options.messages} --seconds ${options.seconds} --concurrency ${options.concurrency}`,
  };

  const cleanup = async () => {
    for (const child of children.reverse()) await stopChild(child).catch(() => undefined);
    if (adminClient && benchDatabase) await adminClient.query(`DROP DATABASE IF EXISTS ${benchDatabase} WITH (FORCE)`).catch(() => undefined);
    await adminClient?.end().catch(() => undefined);
    // Best effort: the keys are namespaced by this run.
    if (redisUrl) await deleteKeys(keyPrefix, redisUrl).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  };
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    step('interrupted: stopping the processes');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    // A database of this run's own on the given server, dropped at the end.
    let apiDatabaseUrl: string | undefined;
    if (databaseUrl) {
      adminClient = new pg.Client({ connectionString: databaseUrl });
      await adminClient.connect();
      benchDatabase = `concord_bench_${run}`;
      await adminClient.query(`CREATE DATABASE ${benchDatabase}`);
      const url = new URL(databaseUrl);
      url.pathname = `/${benchDatabase}`;
      apiDatabaseUrl = url.toString();
      setup.postgres = ((await adminClient.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?') + ` (${url.host}, database ${benchDatabase})`;
    } else {
      setup.postgres = 'embedded PGlite (no DATABASE_URL)';
    }
    if (redisUrl) {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      const info = await redis.info('server');
      redis.disconnect();
      setup.redis = `${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'} (${new URL(redisUrl).host})`;
    } else {
      setup.redis = 'none: API and signaling in one process, in-process delivery';
    }
    setup.mode = redisUrl ? 'cluster: API process → Redis → signaling process' : 'embedded: API and signaling in one process';

    const privateKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keys = await loadSigningKeys({ dataDir, privateKeyPem });
    const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', NODE_ENV: 'production' };

    step(`starting the API (${setup.postgres}${redisUrl ? ', Redis' : ''})`);
    const host = spawnScript('api', 'bench/api-host.ts', {
      ...baseEnv,
      CONCORD_DATA_DIR: dataDir,
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      API_PRIVATE_KEY_PEM: privateKeyPem,
      ...(apiDatabaseUrl && { DATABASE_URL: apiDatabaseUrl }),
      ...(redisUrl && { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix }),
    }, options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`] : []);
    children.push(host);
    const ready = await untilMessage(host, 'ready', 90_000);

    let signalingUrl = ready.signalingUrl;
    let signalingPid = host.process.pid!;
    if (redisUrl) {
      step('starting signaling');
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const signaling = spawnScript('signaling', 'signaling/src/main.ts', {
        ...baseEnv,
        SIGNALING_HOST: '127.0.0.1',
        SIGNALING_PORT: String(port),
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: keyPrefix,
        API_JWKS_URL: `${ready.apiUrl}/api/.well-known/jwks.json`,
        SFU_SECRET: randomBytes(16).toString('hex'),
        LOG_LEVEL: 'info',
      });
      children.push(signaling);
      await untilOutput(signaling, /signaling listening on/, 30_000);
      signalingUrl = `http://127.0.0.1:${port}`;
      signalingPid = signaling.process.pid!;
    }
    step('starting the bare socket.io server');
    const bareServer = spawnScript('bare socket.io', 'bench/bare-server.ts', baseEnv);
    children.push(bareServer);
    const barePort = (await untilOutput(bareServer, /^(\d+)\n/m, 30_000))[1];

    const results: PhaseResult[] = [];
    for (const n of options.clients) {
      if (interrupted) return;
      results.push(
        await runPhase(n, options, {
          host,
          apiUrl: ready.apiUrl,
          signalingUrl: signalingUrl!,
          signalingPid,
          bareUrl: `http://127.0.0.1:${barePort}`,
          barePid: bareServer.process.pid!,
          keys,
        }),
      );
    }
    setup['load average at end (1 min)'] = loadavg()[0]!.toFixed(2);
    const text = report(results, setup, options);
    process.stdout.write(`\n${text}\n`);
    if (options.json) await writeFile(options.json, JSON.stringify({ setup, options, results }, null, 2));
  } finally {
    if (!interrupted) await cleanup();
  }
}

runCli('bench:chat', USAGE, main);
