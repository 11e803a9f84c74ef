import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../scripts/cli';
import { BareSfu } from './baseline';
import { signalingConnector } from './client/signaling-control';
import { PacingClock } from './media/clock';
import { loadMediaSet } from './media/media-set';
import { parseOptions, USAGE, type RunOptions } from './options';
import { Progress } from './progress';
import { renderReport } from './report/html';
import { describeMachine } from './machine';
import type { LoadTestResult, RunLabel, TargetRun } from './result';
import { runTarget, type RunMode } from './runner';
import { describeScenario } from './scenario';
import { PlatformSetup } from './setup';
import { pipeOf, ratiosOf, scaleOutOf, summaryOf } from './summary';
import { startCluster } from './target/cluster';
import { attachUrl, startStandalone, type Target } from './target/platform';

/** How long a capacity search may take before it reports what it has. */
const SEARCH_BUDGET_MINUTES = 30;
/** The exit status of a fixed run that broke a threshold (2 is a mistake on the command line). */
const THRESHOLD_BROKEN = 3;

/**
 * What must be stopped if the run is interrupted: the platform runs in its own process group
 * (so it can be reaped as a whole), which a Ctrl+C in the terminal does not reach.
 */
const running = new Set<() => Promise<void>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping what was started…\n`);
    void Promise.allSettled([...running].map((stop) => stop())).then(() => process.exit(130));
  });
}

async function stopping<T extends { stop(): Promise<void> }>(started: T, use: (started: T) => Promise<void>): Promise<void> {
  const stop = () => started.stop();
  running.add(stop);
  try {
    await use(started);
  } finally {
    running.delete(stop);
    await stop();
  }
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const { scenario } = options;
  const startedAt = new Date().toISOString();
  const progress = new Progress();
  const machine = describeMachine();
  progress.note(`${describeScenario(scenario)} — ${machine.cpus} × ${machine.cpuModel}, load average ${machine.loadAverageBefore.toFixed(2)}`);
  if (machine.loadAverageBefore > 1.5) progress.note('note: the machine is busy (load average > 1.5): CPU numbers will be noisy');

  const media = await loadMediaSet({ codec: scenario.codec, simulcast: scenario.simulcast, camera: scenario.sources.includes('camera'), screen: scenario.screenSharers > 0 });
  const clock = new PacingClock();
  const common = { scenario, media, clock, verifyEvery: options.verifyEvery, thresholds: options.thresholds };
  /** The load on one of our targets: its own users, servers and grants through its API. */
  const platformRun = async (label: RunLabel, target: Target, mode: RunMode): Promise<TargetRun> => {
    const setup = new PlatformSetup(target.url);
    return runTarget(
      { label, description: target.description, mode, progress },
      {
        ...common,
        runId: randomBytes(3).toString('hex'),
        connect: signalingConnector(target.signalingUrl, setup),
        prepare: (plans) => setup.prepare(plans),
        processes: () => target.processes(),
        ...(options.browsers > 0 && label === 'platform' && { browsers: { count: options.browsers, baseUrl: target.url, entry: (userName, room) => setup.browserEntry(userName, room) } }),
      },
    );
  };
  let workers = options.workers;
  const runs: TargetRun[] = [];
  const { cluster } = options;
  try {
    await stopping(await startTarget(options), async (target) => {
      // A running platform has as many workers as it was started with (a cluster: all its nodes').
      workers = target.processes().workerPids.length || options.workers;
      runs.push(await platformRun('platform', target, modeOf(options, workers)));
    });
    // The comparisons run the platform's loads again, up to its knee, so they compare stage by stage.
    const platform = runs[0]!;
    const upTo = platform.knee?.stage?.rooms ?? Infinity;
    const rooms = platform.stages.map((stage) => stage.rooms).filter((count) => count <= upTo);
    const sameLoads: RunMode = { kind: 'stages', rooms: rooms.length > 0 ? rooms : [scenario.rooms], seconds: options.search?.windowSeconds ?? scenario.durationSeconds };
    if (options.baseline) {
      await stopping(await BareSfu.start({ socketBufferBytes: options.baselineSocketBuffer }), async (bare) => {
        runs.push(
          await runTarget(
            {
              label: 'baseline',
              description: `bare mediasoup: one worker with a WebRtcServer, a router per room, in the load-test process${options.baselineSocketBuffer ? `, socket buffers ${options.baselineSocketBuffer} bytes` : ''}`,
              mode: sameLoads,
              progress,
            },
            { ...common, runId: randomBytes(3).toString('hex'), connect: bare.connect, processes: () => bare.processes() },
          ),
        );
      });
    }
    if (cluster?.pipeEnv) {
      const piped = { ...cluster, workers: options.workers, nodeEnv: { ...cluster.nodeEnv, ...cluster.pipeEnv } };
      await stopping(await startCluster(piped), async (target) => void runs.push(await platformRun('piped', target, sameLoads)));
    }
    if (cluster?.scaleOut) {
      await stopping(await startCluster({ ...cluster, workers: options.workers, nodes: 1 }), async (target) => void runs.push(await platformRun('one node', target, modeOf(options, options.workers))));
    }
  } finally {
    clock.stop();
  }

  const pipe = pipeOf(runs);
  const scaleOut = cluster && scaleOutOf(runs, cluster.nodes);
  const result: LoadTestResult = {
    version: 1,
    startedAt,
    command: `npm run loadtest -- ${args.join(' ')}`.trim(),
    scenario,
    thresholds: options.thresholds,
    machine,
    workers,
    verifyEvery: options.verifyEvery,
    runs,
    ...ratiosOf(runs),
    ...(pipe && { pipe }),
    ...(scaleOut && { scaleOut }),
  };
  mkdirSync(options.outDir, { recursive: true });
  const jsonFile = path.join(options.outDir, 'result.json');
  const htmlFile = path.join(options.outDir, 'report.html');
  writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(htmlFile, renderReport(result));
  progress.note(summaryOf(result));
  progress.note(`result: ${jsonFile}\nreport: ${htmlFile}`);
  if (runs.some((run) => run.stages.some((stage) => stage.breaches.length > 0)) && !options.search) process.exitCode = THRESHOLD_BROKEN;
}

function startTarget(options: RunOptions): Promise<Target> {
  if (options.cluster) return startCluster({ ...options.cluster, workers: options.workers });
  return options.url ? Promise.resolve(attachUrl(options.url)) : startStandalone({ workers: options.workers });
}

function modeOf(options: RunOptions, workers: number): RunMode {
  const { scenario, search } = options;
  if (!search) return { kind: 'stages', rooms: [scenario.rooms], seconds: scenario.durationSeconds };
  return { kind: 'search', firstRooms: scenario.rooms, ...search, thresholds: options.thresholds, workers, maxMinutes: SEARCH_BUDGET_MINUTES };
}

runCli('loadtest', USAGE, main);
