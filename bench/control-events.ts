/**
 * `npm run bench:events`: how many copies of each event the platform sends, at a fixed load. It
 * counts every event packet socket.io-client receives, on the SFU → signaling control connections
 * and on the clients' sockets, while a fixed scenario runs against a real SFU node (mediasoup) and
 * several signaling processes (in this process, each on its own port with its own control
 * connection, as testkit's harness starts them):
 *
 *   --rooms N rooms of --peers M; each user has a call socket and a real-time socket (as the web
 *   client), each on a signaling process chosen by a hash of the user (as a balancer spreads them);
 *   every peer receives and sends a mic, and mutes or unmutes it every 2 s (staggered); --chat R
 *   chat messages a second go to every user (as one server holding them all), delivered by every
 *   signaling process to its own sockets, as the Redis adapter does in a cluster.
 *
 * With --baseline REV it first runs the same scenario on commit REV (a git worktree in /tmp whose
 * @concord packages are its own), then on this checkout, and prints both and their ratios; --write
 * records them in docs/benchmarks.md ("Control-channel events").
 *
 *   npm run bench:events -- --baseline 97a3c1e --write
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io, Socket } from 'socket.io-client';
import * as protocol from '@concord/protocol';
import { writeBenchmarkSection } from '../scripts/benchmarks-doc';
import { integerOption, parseCommandLine, runCli } from '../scripts/cli';
import { startHarness, type SignalingProcess } from '../testkit/src/signaling';
import { produceRequest } from '../testkit/src/voice-client';

const ROOT = path.resolve(__dirname, '..');
const MUTE_PERIOD_MS = 2_000;

const USAGE = `npm run bench:events -- [options]

  --rooms N         voice rooms (default 20)
  --peers M         peers per room (default 4)
  --signaling S     signaling processes (default 2)
  --seconds T       measured time, after setup (default 10)
  --chat R          chat messages per second to every user (default 5)
  --baseline REV    also run commit REV (in a git worktree), first, for a before/after
  --write           record the figures in docs/benchmarks.md ("Control-channel events")
  --measure         one run in this checkout only, its figures printed as JSON (what the others run)
`;

interface Scenario {
  rooms: number;
  peers: number;
  signaling: number;
  seconds: number;
  chat: number;
}

/** Events a second over the measured time. */
interface Figures {
  /** SFU → signaling room events, all control connections together, and per signaling process. */
  sfuToSignaling: number;
  sfuToSignalingPerProcess: number[];
  /** Voice events signaling sent to call sockets. */
  voiceToClients: number;
  /** Chat events received by users (over all their sockets), and copies per message per user. */
  chatToClients: number;
  chatCopies: number;
}

// ---------- one run, in the checkout it runs from ----------

/** socket.io-client's per-packet hook, wrapped to count every event packet by the socket it arrives on. */
type Internals = { onevent(this: Socket & { auth?: unknown }, packet: { data?: unknown[] }): void };

async function measure(scenario: Scenario): Promise<Figures> {
  const counts = { control: new Map<string, number>(), voice: 0, chat: 0 };
  let counting = false;
  const internals = Socket.prototype as unknown as Internals;
  const onevent = internals.onevent;
  const calls = new WeakSet<Socket>();
  internals.onevent = function (packet) {
    const signalingId = (this.auth as { signalingId?: unknown } | undefined)?.signalingId;
    const event = packet.data?.[0];
    if (counting && typeof signalingId === 'string' && event === 'room:event') counts.control.set(signalingId, (counts.control.get(signalingId) ?? 0) + 1);
    else if (counting && event === 'message:created') counts.chat += 1;
    else if (counting && calls.has(this) && typeof event === 'string' && event.startsWith('voice:')) counts.voice += 1;
    onevent.call(this, packet);
  };

  // Before the namespaces split, the call socket was on `/` like the real-time one.
  const voiceNamespace = (protocol as Record<string, unknown>).VOICE_NAMESPACE ?? '/';
  const h = await startHarness({ sfu: { peerGraceMs: 5_000 } });
  const processes: SignalingProcess[] = [h];
  for (let i = 1; i < scenario.signaling; i++) processes.push(await h.addSignaling());
  const sockets: Socket[] = [];
  const connect = async (via: SignalingProcess, namespace: string, userId: string): Promise<Socket> => {
    const socket = io(new URL(namespace, via.url).href, { auth: { token: await h.sessionToken(userId) }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  };
  const ask = async (socket: Socket, name: string, payload: unknown): Promise<Record<string, unknown>> => {
    const result = (await socket.timeout(10_000).emitWithAck(name, payload)) as protocol.Result<Record<string, unknown>>;
    if (!result.ok) throw new Error(`${name}: ${result.error.code} ${result.error.message}`);
    return result.data;
  };

  try {
    const users: string[] = [];
    const mics: { socket: Socket; producerId: string }[] = [];
    let ssrc = 70_000;
    for (let r = 0; r < scenario.rooms; r++) {
      for (let p = 0; p < scenario.peers; p++) {
        const userId = `u${r}-${p}`;
        users.push(userId);
        await connect(processes[spread(userId, 'gateway', scenario.signaling)]!, '/', userId);
        const call = await connect(processes[spread(userId, 'call', scenario.signaling)]!, voiceNamespace as string, userId);
        calls.add(call);
        const joined = await ask(call, 'voice:join', { grant: await h.grantFor(userId, `room-${r}`) });
        await ask(call, 'voice:createTransport', { direction: 'recv' });
        await ask(call, 'voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
        const { transportId } = await ask(call, 'voice:createTransport', { direction: 'send' });
        const { producerId } = await ask(call, 'voice:produce', produceRequest(transportId as string, 'mic', ++ssrc));
        mics.push({ socket: call, producerId: producerId as string });
      }
    }
    await sleep(1_000);

    counting = true;
    const startedAt = performance.now();
    // On a fixed schedule, whatever each step took: the load stays the same on a busy machine.
    const at = (ms: number) => sleep(Math.max(0, startedAt + ms - performance.now()));
    const muting = mics.map(async ({ socket, producerId }, index) => {
      const offset = (index * MUTE_PERIOD_MS) / mics.length;
      for (let step = 0; offset + step * MUTE_PERIOD_MS < scenario.seconds * 1_000; step++) {
        await at(offset + step * MUTE_PERIOD_MS);
        await ask(socket, step % 2 === 0 ? 'voice:pauseProducer' : 'voice:resumeProducer', { producerId });
      }
    });
    let sent = 0;
    const chatting = (async () => {
      for (; (sent * 1_000) / scenario.chat < scenario.seconds * 1_000; sent++) {
        await at((sent * 1_000) / scenario.chat);
        const message = chatMessage(`m${sent}`, users[0]!);
        for (const { signaling } of processes) signaling.realtime.deliver(users, 'message:created', message);
      }
    })();
    await Promise.all([...muting, chatting]);
    // The last events still on their way; the rates are per second of the schedule.
    await sleep(500);
    counting = false;
    const { seconds } = scenario;

    const perProcess = processes.map((_, i) => (counts.control.get(`signaling-test-${i + 1}`) ?? 0) / seconds);
    return {
      sfuToSignaling: perProcess.reduce((sum, n) => sum + n, 0),
      sfuToSignalingPerProcess: perProcess,
      voiceToClients: counts.voice / seconds,
      chatToClients: counts.chat / seconds,
      chatCopies: counts.chat / (sent * users.length),
    };
  } finally {
    internals.onevent = onevent;
    for (const socket of sockets) socket.close();
    await h.close();
  }
}

/** A stable choice of one of `n` processes for the user's `kind` of socket, as a balancer's hash spreads clients. */
function spread(userId: string, kind: string, n: number): number {
  let hash = 2166136261;
  for (const char of `${kind}:${userId}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash % n;
}

function chatMessage(id: string, authorId: string): protocol.Message {
  const at = new Date().toISOString();
  return { id, channelId: 'bench', serverId: 'bench', authorId, content: `message ${id}`, createdAt: at, editedAt: null, replyToId: null, mentions: [], mentionEveryone: false, nonce: null, reactions: [] };
}

// ---------- the command: this checkout, and a baseline commit in a worktree ----------

function parseOptions(args: string[]): { scenario: Scenario; baseline?: string; write: boolean; measure: boolean } {
  const { values } = parseCommandLine({
    args,
    options: {
      rooms: { type: 'string', default: '20' },
      peers: { type: 'string', default: '4' },
      signaling: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '10' },
      chat: { type: 'string', default: '5' },
      baseline: { type: 'string' },
      write: { type: 'boolean', default: false },
      measure: { type: 'boolean', default: false },
    },
  });
  const count = (name: keyof Scenario, max: number): number => integerOption(name, values[name], 1, max);
  const scenario = { rooms: count('rooms', 500), peers: count('peers', 50), signaling: count('signaling', 8), seconds: count('seconds', 600), chat: count('chat', 100) };
  return { scenario, baseline: values.baseline, write: values.write, measure: values.measure };
}

/**
 * A detached worktree of `rev` that runs its own code: a node_modules of links to this checkout's
 * installed packages, except @concord/*, which point at the worktree's workspaces.
 */
function worktreeOf(rev: string): { root: string; remove: () => void } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-events-baseline-'));
  execFileSync('git', ['worktree', 'add', '--detach', root, commit], { cwd: ROOT, stdio: 'ignore' });
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(path.join(modules, '@concord'), { recursive: true });
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry !== '@concord') fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  for (const workspace of fs.readdirSync(path.join(ROOT, 'node_modules/@concord'))) {
    if (fs.existsSync(path.join(root, workspace))) fs.symlinkSync(path.join(root, workspace), path.join(modules, '@concord', workspace));
  }
  // The baseline predates this benchmark: it runs this file, against the baseline's code.
  fs.copyFileSync(__filename, path.join(root, 'bench', path.basename(__filename)));
  return { root, remove: () => execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: ROOT, stdio: 'ignore' }) };
}

/** One run in a child process of `root`, so that it loads that checkout's code; answers its figures. */
async function runIn(root: string, scenario: Scenario): Promise<Figures> {
  const args = ['tsx', path.join(root, 'bench', path.basename(__filename)), '--measure', ...Object.entries(scenario).flatMap(([key, value]) => [`--${key}`, String(value)])];
  const child = spawn('npx', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the run in ${root} exited with ${code}`);
  return JSON.parse(output.trim().split('\n').at(-1)!) as Figures;
}

const describe = (f: Figures): string =>
  `SFU→signaling ${f.sfuToSignaling.toFixed(1)}/s (per process ${f.sfuToSignalingPerProcess.map((n) => n.toFixed(1)).join(', ')}), ` +
  `voice events to call sockets ${f.voiceToClients.toFixed(1)}/s, chat events to users ${f.chatToClients.toFixed(1)}/s (${f.chatCopies.toFixed(2)} copies per message per user)`;

const ratio = (after: number, before: number): string => (before === 0 ? '–' : `${(after / before).toFixed(2)}×`);

function section(scenario: Scenario, runs: Array<[string, Figures]>, command: string): string {
  const rows = runs.map(
    ([label, f]) =>
      `| ${label} | ${f.sfuToSignaling.toFixed(1)} | ${f.sfuToSignalingPerProcess.map((n) => n.toFixed(1)).join(' / ')} | ${f.voiceToClients.toFixed(1)} | ${f.chatToClients.toFixed(1)} | ${f.chatCopies.toFixed(2)} |`,
  );
  const [before, after] = runs.map(([, f]) => f);
  if (before && after) {
    rows.push(
      `| ratio after / before | ${ratio(after.sfuToSignaling, before.sfuToSignaling)} | | ${ratio(after.voiceToClients, before.voiceToClients)} | ${ratio(after.chatToClients, before.chatToClients)} | ${ratio(after.chatCopies, before.chatCopies)} |`,
    );
  }
  return [
    '## Control-channel events (`npm run bench:events`)',
    '',
    `\`${command}\` — ${scenario.rooms} rooms of ${scenario.peers} peers on one SFU node (real mediasoup), ${scenario.signaling} signaling processes,`,
    `each user's call socket and real-time socket on a process chosen by a hash of the user; every peer mutes or unmutes its mic`,
    `every 2 s, and ${scenario.chat} chat messages a second go to every user; ${scenario.seconds} s measured. Counted: every event packet`,
    'socket.io-client received, by the socket it arrived on (events per second).',
    '',
    '| code | SFU → signaling | per signaling process | voice events to call sockets | chat events to users | copies of a message per user |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Before, an SFU node sent every room event to every signaling process and a call socket got every chat event too. After, a room’s events',
    "go to the processes serving its peers, an event for listed peers (here all of them: consumers paused and resumed) only to",
    "the process holding them, and chat comes over the real-time socket alone. With S processes the per-peer share falls to 1/S.",
    '',
  ].join('\n');
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  if (options.measure) {
    process.stdout.write(`${JSON.stringify(await measure(options.scenario))}\n`);
    return;
  }
  const runs: Array<[string, Figures]> = [];
  if (options.baseline) {
    const label = execFileSync('git', ['log', '-1', '--format=%h', options.baseline], { cwd: ROOT, encoding: 'utf8' }).trim();
    const baseline = worktreeOf(options.baseline);
    try {
      console.log(`baseline ${label}: running…`);
      runs.push([`before: ${label}`, await runIn(baseline.root, options.scenario)]);
      console.log(`before: ${describe(runs[0]![1])}`);
    } finally {
      baseline.remove();
    }
  }
  const head = execFileSync('git', ['log', '-1', '--format=%h', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  console.log('this checkout: running…');
  const figures = await runIn(ROOT, options.scenario);
  runs.push([options.baseline ? `after: ${head} and the working tree` : `${head} and the working tree`, figures]);
  console.log(`${runs.at(-1)![0]}: ${describe(figures)}`);
  if (options.write) writeBenchmarkSection(section(options.scenario, runs, `npm run bench:events -- ${args.filter((a) => a !== '--write').join(' ')}`.trim()));
}

runCli('bench:events', USAGE, main);
