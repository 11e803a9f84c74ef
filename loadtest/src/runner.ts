import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BrowserParticipant, type RecvStats } from './client/browser';
import type { ConnectControl } from './client/control';
import { Participant, type ParticipantPlan } from './client/participant';
import type { PacingClock } from './media/clock';
import type { MediaSet } from './media/media-set';
import { foreignCpu, rssOf, sample, snapshot, stageResult, type LoadSnapshot } from './metrics';
import type { Progress } from './progress';
import type { RunLabel, Sample, StageResult, TargetRun, Thresholds } from './result';
import { planRooms, type Scenario } from './scenario';
import type { BrowserEntry } from './setup';
import { capacitySearch, type SearchOptions } from './search';
import type { SfuProcesses } from './target/platform';

/** How long media settles after the last join before a window is measured: consumers resumed, keyframes in. */
const SETTLE_MS = 3_000;
/** A participant not joined within this long is a failure, and the ramp does not wait for it longer. */
const JOIN_TIMEOUT_MS = 30_000;
const SAMPLE_MS = 1_000;
const STOP_CONCURRENCY = 16;

export interface LoadDriverOptions {
  scenario: Scenario;
  /** Makes names unique, so runs against the same platform do not meet in a room. */
  runId: string;
  connect: ConnectControl;
  /** Before a stage's ramp: makes its participants' accounts, so sign-up is not timed as joining. */
  prepare?: (plans: ParticipantPlan[]) => Promise<void>;
  processes: () => SfuProcesses;
  media: MediaSet;
  clock: PacingClock;
  verifyEvery: number;
  thresholds: Thresholds;
  /** Headless Chromium participants, joined to the first room once the first stage's load is up. */
  browsers?: { count: number; baseUrl: string; entry: (userName: string, roomName: string) => Promise<BrowserEntry> };
  onSample?: (sample: Sample) => void;
}

/**
 * Holds a growing load against one target: `addRooms` ramps participants in at the scenario's
 * rate, `measure` holds the load for a window and reports it as a stage. Everything started is
 * stopped by `stop`, which every caller reaches through `finally`.
 */
export class LoadDriver {
  readonly participants: Participant[] = [];
  readonly browsers: BrowserParticipant[] = [];
  readonly samples: Sample[] = [];
  readonly #options: LoadDriverOptions;
  readonly #startedAt = performance.now();
  readonly #eventLoop = monitorEventLoopDelay({ resolution: 10 });
  readonly #idleRss;
  #rooms = 0;
  #stageNewcomers: Participant[] = [];
  /** Browsers that joined during the current stage (all of them join in the first). */
  #stageBrowsers = 0;
  /** The generator's and the machine's load while the last stage's participants joined: join times depend on them. */
  #ramp = { cpu: 0, eventLoopP99Ms: 0, foreignCpu: 0 };
  /** Taken when the current stage's ramp began. */
  #stageStart: LoadSnapshot;
  #last: LoadSnapshot;
  #sampler: NodeJS.Timeout;

  constructor(options: LoadDriverOptions) {
    this.#options = options;
    const processes = options.processes();
    this.#idleRss = rssOf(processes);
    this.#last = snapshot(this.participants, processes);
    this.#stageStart = this.#last;
    this.#eventLoop.enable();
    this.#sampler = setInterval(() => this.#sample(), SAMPLE_MS);
  }

  get rooms(): number {
    return this.#rooms;
  }

  /** Ramps in `count` more rooms' participants at the scenario's rate; resolves once all joined or failed. */
  async addRooms(count: number): Promise<void> {
    const { scenario, runId } = this.#options;
    const plans = planRooms(scenario, runId, this.#rooms, this.#rooms + count);
    await this.#options.prepare?.(plans);
    this.#rooms += count;
    this.#stageNewcomers = [];
    this.#stageBrowsers = 0;
    const rampStart = this.#snapshot();
    this.#stageStart = rampStart;
    this.#eventLoop.reset();
    const intervalMs = 1000 / scenario.rampPerSecond;
    const starts: Promise<void>[] = [];
    for (const [index, plan] of plans.entries()) {
      const dueAt = rampStart.at + index * intervalMs;
      await sleep(dueAt - performance.now());
      const participant = new Participant(plan, {
        connect: this.#options.connect,
        media: this.#options.media.media,
        clock: this.#options.clock,
        verifyEvery: this.#options.verifyEvery,
      });
      this.participants.push(participant);
      this.#stageNewcomers.push(participant);
      starts.push(withTimeout(participant.start(), JOIN_TIMEOUT_MS, () => participant.fail(`not joined within ${JOIN_TIMEOUT_MS / 1000} s (stuck at ${participant.step})`)));
    }
    await Promise.all(starts);
    const rampEnd = this.#snapshot();
    this.#ramp = {
      cpu: (rampEnd.generatorCpuMs - rampStart.generatorCpuMs) / Math.max(1, rampEnd.at - rampStart.at),
      eventLoopP99Ms: this.#eventLoop.percentile(99) / 1e6,
      foreignCpu: foreignCpu(rampStart, rampEnd),
    };
    if (this.browsers.length === 0 && this.#options.browsers) await this.#addBrowsers(this.#options.browsers, plans[0]!.roomId);
    await sleep(SETTLE_MS);
  }

  /** Holds the current load for `seconds` and reports it. */
  async measure(seconds: number): Promise<StageResult> {
    const before = this.#snapshot();
    const browsersBefore = await this.#browserStats();
    this.#eventLoop.reset();
    await sleep(seconds * 1000);
    const after = this.#snapshot();
    const browsersAfter = await this.#browserStats();
    return stageResult({
      browsers: { timelines: this.browsers.map((browser) => browser.timeline), before: browsersBefore, after: browsersAfter, newcomers: this.#stageBrowsers },
      rooms: this.#rooms,
      participants: this.participants,
      newcomers: this.#stageNewcomers,
      stageStart: this.#stageStart,
      before,
      after,
      expectedBitrate: this.#options.media.expectedBitrate,
      idleRss: this.#idleRss,
      eventLoopP99Ms: this.#eventLoop.percentile(99) / 1e6,
      ramp: this.#ramp,
      thresholds: this.#options.thresholds,
    });
  }

  /** Stops every participant (they leave the room and close their transports). Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#sampler);
    this.#eventLoop.disable();
    await Promise.all(this.browsers.splice(0).map((browser) => browser.close()));
    const queue = [...this.participants];
    await Promise.all(
      Array.from({ length: STOP_CONCURRENCY }, async () => {
        for (let participant = queue.shift(); participant; participant = queue.shift()) await participant.stop();
      }),
    );
  }

  /** Launched one by one (each start is heavy), joined together. */
  async #addBrowsers(browsers: NonNullable<LoadDriverOptions['browsers']>, roomName: string): Promise<void> {
    const joins: Promise<void>[] = [];
    for (let index = 0; index < browsers.count; index++) {
      const userName = `${roomName}-b${index}`;
      const [entry, browser] = await Promise.all([browsers.entry(userName, roomName), BrowserParticipant.launch(userName)]);
      this.browsers.push(browser);
      joins.push(browser.join(browsers.baseUrl, entry));
    }
    await Promise.all(joins);
    this.#stageBrowsers = this.browsers.length;
  }

  #snapshot(): LoadSnapshot {
    return snapshot(this.participants, this.#options.processes(), this.browsers.flatMap((browser) => browser.pids()));
  }

  #browserStats(): Promise<(RecvStats | null)[]> {
    return Promise.all(this.browsers.map((browser) => browser.stats().catch(() => null)));
  }

  #sample(): void {
    const next = this.#snapshot();
    const line = sample(this.#last, next, this.participants, this.#startedAt);
    this.#last = next;
    this.samples.push(line);
    this.#options.onSample?.(line);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function withTimeout(work: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
  });
  await Promise.race([work, expired]);
  clearTimeout(timer);
}

/**
 * Given loads, each measured for `seconds` (a fixed run is one; the baseline repeats the
 * platform's stages), or a capacity search.
 */
export type RunMode = { kind: 'stages'; rooms: number[]; seconds: number } | ({ kind: 'search' } & Omit<SearchOptions, 'onStage'>);

/**
 * One target's part of a run: the load applied and measured, its stages, samples and (when
 * searching) knee. The participants are stopped whatever happens.
 */
export async function runTarget(
  run: { label: RunLabel; description: string; mode: RunMode; progress: Progress },
  options: Omit<LoadDriverOptions, 'onSample'>,
): Promise<TargetRun> {
  const { label, progress, mode } = run;
  const driver = new LoadDriver({ ...options, onSample: (line) => progress.sample(label, line) });
  try {
    if (mode.kind === 'stages') {
      const stages: StageResult[] = [];
      for (const rooms of mode.rooms) {
        await driver.addRooms(rooms - driver.rooms);
        stages.push(await driver.measure(mode.seconds));
        progress.stage(label, stages.at(-1)!);
      }
      return { label, description: run.description, stages, samples: driver.samples };
    }
    const { stages, knee } = await capacitySearch(driver, { ...mode, onStage: (stage) => progress.stage(label, stage) });
    return { label, description: run.description, stages, samples: driver.samples, knee };
  } finally {
    await driver.stop();
  }
}
