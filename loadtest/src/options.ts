import path from 'node:path';
import { parseCommandLine, UsageError } from '../../scripts/cli';
import { DEFAULT_THRESHOLDS } from './metrics';
import type { Thresholds } from './result';
import { PRESETS, resolveScenario, type PresetName, type Scenario } from './scenario';

export interface ClusterRunOptions {
  nodes: number;
  redisUrl: string;
  /** PostgreSQL for the API (the environment's DATABASE_URL); the embedded database when absent. */
  databaseUrl?: string;
  /** Environment of every SFU node. */
  nodeEnv: Record<string, string>;
  /** Also run the same load with this added to the nodes' environment (a room piped across workers or nodes), and compare. */
  pipeEnv?: Record<string, string>;
  /** Also search on a cluster of one node, and compare the knees. */
  scaleOut: boolean;
}

/** Everything the command line decides, parsed and checked once. */
export interface RunOptions {
  scenario: Scenario;
  /** Target a running platform instead of starting one. */
  url?: string;
  /** SFU_WORKERS of the platform the tool starts (of each node, in a cluster). */
  workers: number;
  /** The platform as separate processes with N SFU nodes, instead of the standalone launcher. */
  cluster?: ClusterRunOptions;
  baseline: boolean;
  /** Socket buffer size for the baseline's WebRtcServer (what-if; default: the kernel's, like our SFU). */
  baselineSocketBuffer?: number;
  search?: { stepRooms: number; maxRooms: number; windowSeconds: number };
  browsers: number;
  verifyEvery: number;
  thresholds: Thresholds;
  outDir: string;
}

export const USAGE = `npm run loadtest -- [options]

Scenario (a preset, then overrides; or a JSON file of Scenario fields):
  --preset meeting|webinar|voice   default meeting
  --scenario FILE.json
  --rooms N  --size N              rooms, participants per room (preset decides who publishes)
  --publishers N --subscribers N   per room, instead of --size
  --sources mic,camera             what each publisher sends
  --screen N                       publishers per room that also share a screen
  --codec vp8|h264  --simulcast    video codec; two simulcast layers (VP8)
  --ramp N                         participants joining per second (default 10)
  --duration S                     measured seconds (default 30)

Target:
  --url URL        a running \`npm start\` on loopback (default: start one, SFU_WORKERS=--workers)
  --workers N      default 1, so numbers are per worker core
  --baseline       also run the same load through bare mediasoup, and report the ratio
  --baseline-socket-buffer BYTES
                   what-if: give the baseline's WebRtcServer sockets this receive/send buffer
  --nodes N        a cluster instead: API, one signaling process and N SFU nodes as separate
                   processes on a Redis registry (REDIS_URL, default redis://127.0.0.1:6379; the
                   API uses DATABASE_URL if set, else its embedded database)
  --node-env K=V   (repeatable) environment of every SFU node of the cluster
  --pipe-env K=V   (repeatable) also run the same load with this added to the nodes' environment
                   (a setting that pipes each room across workers or nodes) and report the worker
                   CPU per forwarded packet, piped / one router
  --scale-out      with --search: also search on a cluster of one node, and report the knees of
                   N nodes / 1 node at the same thresholds

Capacity search (--search): add --step rooms every stage until a threshold breaks
  --step N  --max-rooms N  --window S (seconds measured per stage, default 10)
  --max-loss PCT (1)  --max-cpu PCT (85)  --max-join-ms MS (1000)

Other:
  --browsers N     headless Chromium participants in the first room (first decoded frame)
  --verify-every N decrypt and authenticate every Nth received packet (default 100; 1 = all)
  --out DIR        where result.json and report.html go (default loadtest/results/<time>)

Exit status: 0 done, 1 the run failed, 2 a mistake on the command line, 3 a fixed run broke a
threshold. See docs/loadtest.md.
`;

/** The command line as RunOptions; a UsageError says what is wrong with it. */
export function parseOptions(argv: string[]): RunOptions {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      preset: { type: 'string' },
      scenario: { type: 'string' },
      rooms: { type: 'string' },
      size: { type: 'string' },
      publishers: { type: 'string' },
      subscribers: { type: 'string' },
      sources: { type: 'string' },
      screen: { type: 'string' },
      codec: { type: 'string' },
      simulcast: { type: 'boolean' },
      ramp: { type: 'string' },
      duration: { type: 'string' },
      url: { type: 'string' },
      workers: { type: 'string' },
      baseline: { type: 'boolean' },
      'baseline-socket-buffer': { type: 'string' },
      nodes: { type: 'string' },
      'node-env': { type: 'string', multiple: true },
      'pipe-env': { type: 'string', multiple: true },
      'scale-out': { type: 'boolean' },
      search: { type: 'boolean' },
      step: { type: 'string' },
      'max-rooms': { type: 'string' },
      window: { type: 'string' },
      'max-loss': { type: 'string' },
      'max-cpu': { type: 'string' },
      'max-join-ms': { type: 'string' },
      browsers: { type: 'string' },
      'verify-every': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const preset = values.preset;
  if (preset !== undefined && !(preset in PRESETS)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`);
  const scenario = scenarioOf(
    { preset: preset as PresetName | undefined, size: count(values.size, 'size'), file: values.scenario },
    {
      rooms: count(values.rooms, 'rooms'),
      publishers: count(values.publishers, 'publishers'),
      subscribers: count(values.subscribers, 'subscribers'),
      sources: values.sources?.split(',').map((source) => source.trim()) as Scenario['sources'] | undefined,
      screenSharers: count(values.screen, 'screen'),
      codec: values.codec as Scenario['codec'] | undefined,
      simulcast: values.simulcast,
      rampPerSecond: number(values.ramp, 'ramp'),
      durationSeconds: count(values.duration, 'duration'),
    },
  );
  const cluster = clusterOf(values, values.search ?? false);
  if (cluster && values.url) throw new UsageError('--nodes starts a cluster; --url targets a running platform: choose one');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    scenario,
    url: values.url,
    workers: count(values.workers, 'workers') ?? 1,
    cluster,
    baseline: values.baseline ?? false,
    baselineSocketBuffer: count(values['baseline-socket-buffer'], 'baseline-socket-buffer'),
    search: values.search
      ? {
          stepRooms: count(values.step, 'step') ?? Math.max(1, Math.ceil(scenario.rooms / 2)),
          maxRooms: count(values['max-rooms'], 'max-rooms') ?? 200,
          windowSeconds: count(values.window, 'window') ?? 10,
        }
      : undefined,
    browsers: count(values.browsers, 'browsers') ?? 0,
    verifyEvery: count(values['verify-every'], 'verify-every') ?? 100,
    thresholds: {
      ...DEFAULT_THRESHOLDS,
      maxLossPct: number(values['max-loss'], 'max-loss') ?? DEFAULT_THRESHOLDS.maxLossPct,
      maxWorkerCpu: (number(values['max-cpu'], 'max-cpu') ?? DEFAULT_THRESHOLDS.maxWorkerCpu * 100) / 100,
      maxJoinP95Ms: number(values['max-join-ms'], 'max-join-ms') ?? DEFAULT_THRESHOLDS.maxJoinP95Ms,
    },
    outDir: path.resolve(values.out ?? path.join(__dirname, '..', 'results', stamp)),
  };
}

/** The cluster flags, checked together: the comparisons only make sense on a cluster. */
function clusterOf(
  values: { nodes?: string; 'node-env'?: string[]; 'pipe-env'?: string[]; 'scale-out'?: boolean },
  search: boolean,
  env: NodeJS.ProcessEnv = process.env,
): ClusterRunOptions | undefined {
  const nodes = count(values.nodes, 'nodes');
  if (nodes === undefined) {
    for (const flag of ['node-env', 'pipe-env', 'scale-out'] as const) if (values[flag] !== undefined) throw new UsageError(`--${flag} needs a cluster (--nodes N)`);
    return undefined;
  }
  if (nodes < 1) throw new UsageError('--nodes must be at least 1');
  const scaleOut = values['scale-out'] ?? false;
  if (scaleOut && (nodes < 2 || !search)) throw new UsageError('--scale-out compares capacity searches: it needs --search and --nodes 2 or more');
  const pipeEnv = values['pipe-env'] && environment(values['pipe-env'], 'pipe-env');
  return {
    nodes,
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(env.DATABASE_URL && { databaseUrl: env.DATABASE_URL }),
    nodeEnv: environment(values['node-env'] ?? [], 'node-env'),
    ...(pipeEnv && { pipeEnv }),
    scaleOut,
  };
}

/** `KEY=VALUE` settings as an environment; a key must look like one. */
function environment(settings: string[], name: string): Record<string, string> {
  return Object.fromEntries(
    settings.map((setting) => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(setting);
      if (!match) throw new UsageError(`--${name} takes KEY=VALUE (an environment variable), got "${setting}"`);
      return [match[1]!, match[2]!];
    }),
  );
}

/** The scenario the flags describe; an unreadable file or an impossible scenario is the command line's mistake. */
function scenarioOf(...args: Parameters<typeof resolveScenario>): Scenario {
  try {
    return resolveScenario(...args);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function number(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, got "${raw}"`);
  return value;
}

function count(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  return value;
}
