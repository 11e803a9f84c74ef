/**
 * `npm run bench:lighthouse`: Lighthouse's performance audit of the sign-in page (mobile, its
 * default simulated throttling) against `npm start`'s one-process server in a temporary data
 * directory, with Debian's Chromium; offline, on loopback.
 *
 *   npm run bench:lighthouse                              # 3 runs, prints the median run
 *   npm run bench:lighthouse -- --baseline df54c1c --write  # also an older commit (a git worktree), into docs/benchmarks.md
 *   npm run bench:lighthouse -- --runs 1                  # quick (the smoke run)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { CHROMIUM, CHROMIUM_ARGS, ROOT, startPlatform } from '@concord/testkit/src/browser';
import { writeBenchmarkSection } from './benchmarks-doc';
import { parseCommandLine, runCli, UsageError } from './cli';

const USAGE = `npm run bench:lighthouse -- [options]

  --runs N          Lighthouse runs per build; the median run (by score) is reported (default 3)
  --baseline REV    also measure commit REV (built in a temporary git worktree), to compare
  --write           record the figures in docs/benchmarks.md ("Sign-in page (Lighthouse)")
`;

interface Figures {
  score: number;
  /** The lowest and highest score of the runs (the median run's figures are the others). */
  scores: [number, number];
  fcp: number;
  lcp: number;
  tbt: number;
  speedIndex: number;
  /** Bytes over the wire for the whole page. */
  transfer: number;
  /** Bytes of JavaScript the page downloads but does not run. */
  unusedJs: number;
  /** Bytes that text compression would still save. */
  compressible: number;
}

interface Options {
  runs: number;
  baseline: string | null;
  write: boolean;
}

function parseOptions(args: string[]): Options {
  const { values } = parseCommandLine({ args, options: { runs: { type: 'string' }, baseline: { type: 'string' }, write: { type: 'boolean' } } });
  const runs = Number(values.runs ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new UsageError(`--runs must be an integer in 1..20, got "${values.runs}"`);
  if (values.baseline !== undefined && !/^[\w./~^-]+$/.test(values.baseline)) throw new UsageError(`--baseline takes a commit, got "${values.baseline}"`);
  return { runs, baseline: values.baseline ?? null, write: values.write ?? false };
}

/** Lighthouse's audit of the sign-in page of the checkout at `root`, `runs` times; the median run by score. */
async function audit(root: string, runs: number): Promise<Figures> {
  // Lighthouse is an ES module; tsx runs this script as CommonJS.
  const { default: lighthouse } = await import('lighthouse');
  const platform = await startPlatform({ root, logLevel: 'warn' });
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, userDataDir: path.join(platform.dir, 'lighthouse-profile') });
  try {
    const port = Number(new URL(browser.wsEndpoint()).port);
    const results: Figures[] = [];
    for (let run = 0; run < runs; run++) {
      const lhr = await lighthouseRun(() => lighthouse(`${platform.url}/`, { port, output: 'json', logLevel: 'error', onlyCategories: ['performance'] }));
      const value = (id: string) => lhr.audits[id]?.numericValue ?? NaN;
      const savings = (id: string) => (lhr.audits[id]?.details as { overallSavingsBytes?: number } | undefined)?.overallSavingsBytes ?? 0;
      results.push({
        scores: [0, 0],
        score: Math.round((lhr.categories.performance?.score ?? NaN) * 100),
        fcp: value('first-contentful-paint'),
        lcp: value('largest-contentful-paint'),
        tbt: value('total-blocking-time'),
        speedIndex: value('speed-index'),
        transfer: value('total-byte-weight'),
        unusedJs: savings('unused-javascript'),
        compressible: savings('uses-text-compression'),
      });
      console.log(`  run ${run + 1}/${runs}: ${describe(results[results.length - 1]!)}`);
    }
    results.sort((a, b) => a.score - b.score);
    return { ...results[Math.floor((results.length - 1) / 2)]!, scores: [results[0]!.score, results[results.length - 1]!.score] };
  } finally {
    await browser.close();
    await platform.stop();
  }
}

type Lhr = NonNullable<Awaited<ReturnType<typeof import('lighthouse').default>>>['lhr'];

/** One Lighthouse run; a run whose trace went wrong (it happens now and then on a busy machine) is retried once. */
async function lighthouseRun(run: () => Promise<{ lhr: Lhr } | undefined>): Promise<Lhr> {
  for (let attempt = 1; ; attempt++) {
    const lhr = (await run())?.lhr;
    if (lhr && !lhr.runtimeError) return lhr;
    const why = lhr?.runtimeError?.message ?? 'no result';
    if (attempt === 2) throw new Error(`Lighthouse failed: ${why}`);
    console.log(`  (Lighthouse: ${why}; once more)`);
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
const describe = (f: Figures) =>
  `score ${f.score}${f.scores[0] < f.scores[1] ? ` (runs ${f.scores[0]}..${f.scores[1]})` : ''}, FCP ${seconds(f.fcp)}, LCP ${seconds(f.lcp)}, TBT ${Math.round(f.tbt)} ms, speed index ${seconds(f.speedIndex)}, transfer ${kib(f.transfer)}, unused JS ${kib(f.unusedJs)}, compression would save ${kib(f.compressible)}`;

/** A detached git worktree of `rev` that shares this checkout's installed modules; removed by the returned function. */
function worktreeOf(rev: string): { root: string; remove: () => void } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-baseline-'));
  execFileSync('git', ['worktree', 'add', '--detach', root, commit], { cwd: ROOT, stdio: 'ignore' });
  for (const modules of ['node_modules', 'web/node_modules']) {
    if (fs.existsSync(path.join(ROOT, modules))) fs.symlinkSync(path.join(ROOT, modules), path.join(root, modules));
  }
  return { root, remove: () => execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: ROOT, stdio: 'ignore' }) };
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const measured: Array<[string, Figures]> = [];
  if (options.baseline) {
    const baseline = worktreeOf(options.baseline);
    const label = execFileSync('git', ['log', '-1', '--format=%h (%ad)', '--date=short', options.baseline], { cwd: ROOT, encoding: 'utf8' }).trim();
    try {
      console.log(`baseline ${label}:`);
      measured.push([`before: ${label}`, await audit(baseline.root, options.runs)]);
    } finally {
      baseline.remove();
    }
  }
  const head = execFileSync('git', ['log', '-1', '--format=%h', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  console.log('this checkout:');
  measured.push([options.baseline ? `after: ${head} and the working tree` : `${head} and the working tree`, await audit(ROOT, options.runs)]);
  for (const [label, figures] of measured) console.log(`${label}: ${describe(figures)}`);
  if (options.write) writeBenchmarkSection(section(measured, options.runs));
}

function section(measured: Array<[string, Figures]>, runs: number): string {
  const chromium = execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  const lighthouseVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/lighthouse/package.json'), 'utf8')) as { version: string }).version;
  return [
    '## Sign-in page (Lighthouse)',
    '',
    `Measured by \`npm run bench:lighthouse\` (scripts/bench-lighthouse.ts) on ${new Date().toISOString().slice(0, 10)}: Lighthouse ${lighthouseVersion}, performance`,
    `category, mobile with its default simulated throttling (slow 4G, 4× CPU slowdown), against \`npm start\`'s server on loopback and headless`,
    `${chromium} (${os.cpus().length} cores, Node ${process.version}); the median of ${runs} runs by score.`,
    '',
    '| build | score (median; runs) | first contentful paint | largest contentful paint | total blocking time | speed index | transfer | unused JavaScript | compression would save |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...measured.map(
      ([label, f]) =>
        `| ${label} | ${f.score} (${f.scores[0]}..${f.scores[1]}) | ${seconds(f.fcp)} | ${seconds(f.lcp)} | ${Math.round(f.tbt)} ms | ${seconds(f.speedIndex)} | ${kib(f.transfer)} | ${kib(f.unusedJs)} | ${kib(f.compressible)} |`,
    ),
    '',
    '- The sign-in page loads only the sign-in code; the chat loads after sign-in, the call stack (mediasoup-client) on the first join of a voice call and the settings when first opened.',
    '- Scripts and styles go out precompressed (brotli, or gzip) as the build writes them beside each asset.',
    "- Total blocking time, and with it the score, moves with the machine's load (Lighthouse multiplies the main thread's measured work by its CPU slowdown): the runs' range is beside the median.",
    '- Left to gain: the sign-in script still holds zod and every protocol schema, all built at start (part of the unused JavaScript and of the blocking time); the sign-in path could load them after the first paint.',
    '',
  ].join('\n');
}

runCli('bench:lighthouse', USAGE, main);
