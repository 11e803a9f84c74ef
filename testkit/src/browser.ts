import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { freePortBase } from './ports';
import { sleep } from './wait';

/*
 * The platform and real browsers for end-to-end tests, screenshots and benchmarks: `npm start`'s
 * launcher on free ports, and Chromium with fake camera, microphone and screen, driven through the
 * UI's data-testid hooks (../../shared/notes/ui-contract.md).
 */

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

export const ROOT = path.resolve(__dirname, '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  // Windows that are not in front still render and run their timers at full speed.
  '--disable-renderer-backgrounding',
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
];

export interface Platform {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** The SFU workers' WebRTC ports. */
  rtcPorts: number[];
  /** A scratch directory for this run (browser profiles, data); removed by stop(). */
  dir: string;
  output(): string;
  /** pino lines at error level or above (50+): a crashed worker, a failed request. */
  errors(): string[];
  stop(): Promise<void>;
}

export interface PlatformOptions {
  workers?: number;
  /** SFU_PEER_GRACE_MS: how long a peer whose socket dropped keeps its place. */
  graceMs?: number;
  env?: Record<string, string>;
  logLevel?: string;
  /** The checkout to run (default: this one), e.g. a git worktree of an older commit to compare with. */
  root?: string;
}

/** Builds the web client if its sources (or the protocol it bundles) changed since the last build, as `npm start` does. */
export function ensureWebBuild(root = ROOT): void {
  const built = path.join(root, 'web/dist/index.html');
  const builtAt = fs.existsSync(built) ? fs.statSync(built).mtimeMs : 0;
  const newer = (dir: string): boolean =>
    fs.readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const file = path.join(dir, entry.name);
      return entry.isDirectory() ? newer(file) : fs.statSync(file).mtimeMs > builtAt;
    });
  const sources = ['web/src', 'protocol/src'].map((dir) => path.join(root, dir));
  if (builtAt > 0 && !sources.some(newer) && fs.statSync(path.join(root, 'web/index.html')).mtimeMs <= builtAt) return;
  // NODE_ENV is `test` under jest, which would make Vite bundle React's development build.
  execFileSync('npm', ['run', 'build:web', '--silent'], { cwd: root, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
}

/** Starts the one-process platform on free ports (building the web client first if needed) and waits until it serves. */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const root = options.root ?? ROOT;
  ensureWebBuild(root);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-e2e-'));
  const workers = options.workers ?? 1;
  const rtcPortBase = await freePortBase(workers);
  let httpPort: number;
  do httpPort = await freePortBase(1);
  while (httpPort >= rtcPortBase && httpPort < rtcPortBase + workers);
  const rtcPorts = Array.from({ length: workers }, (_, i) => rtcPortBase + i);
  const url = `http://127.0.0.1:${httpPort}`;
  let output = '';

  const child: ChildProcess = spawn(path.join(root, 'node_modules/.bin/tsx'), ['standalone/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      CONCORD_DATA_DIR: path.join(dir, 'data'),
      SFU_RTC_PORT_BASE: String(rtcPortBase),
      SFU_WORKERS: String(workers),
      SFU_PEER_GRACE_MS: String(options.graceMs ?? 3_000),
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
    },
    // Its own process group, so the tsx wrapper, node and the mediasoup workers can all be reaped.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

  let stopped: Promise<void> | undefined;
  const platform: Platform = {
    url,
    rtcPorts,
    dir,
    output: () => output,
    errors: () => output.split('\n').filter((line) => /"log\.level":"(error|fatal)"/.test(line)),
    stop: () =>
      (stopped ??= (async () => {
        if (child.pid !== undefined && child.exitCode === null) {
          // tsx passes SIGTERM on to the launcher, which shuts down gracefully; the group goes if it hangs.
          const pid = child.pid;
          process.kill(pid, 'SIGTERM');
          const hardKill = setTimeout(() => killGroup(pid, 'SIGKILL'), 8_000);
          await exited;
          clearTimeout(hardKill);
        }
        // Stragglers of the group (mediasoup workers) once the launcher is gone.
        killGroup(child.pid, 'SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };

  const deadline = Date.now() + 40_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the platform exited with ${child.exitCode} before it was ready:\n${output}`);
    const healthy = await fetch(`${url}/api/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy && output.includes('Concord is running')) break;
    if (Date.now() > deadline) {
      await platform.stop();
      throw new Error(`the platform was not healthy within 40 s:\n${output}`);
    }
    await sleep(200);
  }
  return platform;
}

export interface Person {
  name: string;
  browser: Browser;
  page: Page;
  userId: string;
  /** Console errors and uncaught exceptions of the page. */
  errors: string[];
  /** Set once a test killed it on purpose: its errors no longer matter. */
  killed: boolean;
}

/** A Chromium of its own (fresh profile, fake media) with one page, collecting the page's errors. */
export async function launchPerson(name: string, dir: string, viewport = { width: 1280, height: 760 }): Promise<Person> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    userDataDir: fs.mkdtempSync(path.join(dir, `${name}-`)),
    defaultViewport: viewport,
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const person: Person = { name, browser, page, userId: '', errors: [], killed: false };
  page.on('console', (message) => {
    if (message.type() === 'error') person.errors.push(`console: ${message.text()}${message.location().url ? ` (${message.location().url})` : ''}`);
  });
  page.on('pageerror', (error) => person.errors.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
  return person;
}

export async function closePeople(people: readonly Person[]): Promise<void> {
  await Promise.all(people.map((p) => (p.killed ? undefined : p.browser.close().catch(() => undefined))));
  for (const p of people) killGroup(p.browser.process()?.pid, 'SIGKILL');
}

/** Signs up through the UI (local sign-in) and waits for the app. */
export async function signUp(p: Person, url: string, displayName = p.name[0]!.toUpperCase() + p.name.slice(1)): Promise<void> {
  const { page } = p;
  await page.goto(url);
  await page.waitForSelector('[data-testid=auth-mode]', { timeout: 10_000 });
  await page.click('[data-testid=auth-mode]');
  await page.waitForSelector('[data-testid=auth-display-name]', { timeout: 5_000 });
  await page.type('[data-testid=auth-email]', p.name);
  await page.type('[data-testid=auth-display-name]', displayName);
  await page.type('[data-testid=auth-password]', PASSWORD);
  await page.waitForSelector('[data-testid=auth-submit]:not([disabled])', { timeout: 5_000 });
  await page.click('[data-testid=auth-submit]');
  await page.waitForSelector('[data-testid=current-user]', { timeout: 15_000 });
  p.userId = (await attribute(p.page, 'current-user', 'data-user-id')) ?? '';
  if (!p.userId) throw new Error(`${p.name} has no user id after signing up`);
}

/** Clicks `selector` once it is there, visible and enabled; a locator, so an element React re-renders meanwhile is found again. */
export async function tap(p: Person, selector: string): Promise<void> {
  await p.page.locator(`${selector}:not([disabled])`).setTimeout(10_000).click();
}

export function attribute(page: Page, testId: string, name: string): Promise<string | null> {
  return page.evaluate((id, attr) => document.querySelector(`[data-testid=${id}]`)?.getAttribute(attr) ?? null, testId, name);
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
