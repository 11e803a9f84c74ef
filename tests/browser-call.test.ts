import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { freePortBase } from '../sfu/src/test-support';

/*
 * The whole product in real browsers: `npm start`'s launcher on free ports, three Chromium
 * processes with fake camera, microphone and screen, signing up and meeting through the UI's
 * data-testid hooks (../shared/notes/ui-contract.md). Media must be decoded in every browser and
 * must come from the SFU's ports, so a worker that fails a real DTLS handshake, an SFU that does
 * not forward, or a client that does not consume all fail here.
 *
 * Set CONCORD_E2E_SCREENSHOT=/some/file.png to keep a picture of the call with a screen share.
 */

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const GRACE_MS = 3_000;
const ROOM = 'e2e-lounge';
const CHROMIUM_ARGS = [
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
];

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
interface DomElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
}
interface DomVideo extends DomElement {
  readonly videoWidth: number;
  readonly srcObject: unknown;
  getVideoPlaybackQuality(): { totalVideoFrames: number };
}
interface DomAudio extends DomElement {
  readonly paused: boolean;
  readonly srcObject: { getAudioTracks(): Array<{ readyState: string; muted: boolean }> } | null;
}
declare const document: { querySelector(selector: string): DomElement | null; querySelectorAll(selector: string): ArrayLike<DomElement> };
declare const window: { __concord?: { stats(): Promise<RecvStats | null> } };

interface RecvStats {
  audio: { packetsReceived: number; totalSamplesReceived: number };
  video: { packetsReceived: number; framesDecoded: number };
  selectedCandidatePair: { remoteAddress: string; remotePort: number; protocol: string } | null;
}

/** What a participant-tile shows, read from the DOM. */
interface Tile {
  user: string;
  source: string;
  local: boolean;
  /** Frames the <video> has presented so far (rises while video plays). */
  frames: number;
  width: number;
  /** The placeholder shown instead of video. */
  avatar: boolean;
  micOff: boolean;
  /** The tile's <audio> (remote sound): playing a live track whose RTP has arrived (not muted). */
  audio: 'none' | 'waiting' | 'live';
}

interface Participant {
  name: string;
  browser: Browser;
  page: Page;
  userId: string;
  /** Console errors and uncaught exceptions of the page. */
  errors: string[];
  /** Set once the test killed it on purpose: its errors no longer matter. */
  killed: boolean;
}

let server: ChildProcess | undefined;
let serverExit: Promise<void> | undefined;
let serverOutput = '';
let baseUrl = '';
let rtcPorts: number[] = [];
let profilesDir = '';
const people: Participant[] = [];
let failed = false;

beforeAll(async () => {
  profilesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-e2e-'));
  const rtcPortBase = await freePortBase(2);
  let httpPort: number;
  do httpPort = await freePortBase(1);
  while (httpPort >= rtcPortBase && httpPort <= rtcPortBase + 1);
  rtcPorts = [rtcPortBase, rtcPortBase + 1];
  baseUrl = `http://127.0.0.1:${httpPort}`;

  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['standalone/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      CONCORD_DATA_DIR: path.join(profilesDir, 'data'),
      SFU_RTC_PORT_BASE: String(rtcPortBase),
      SFU_WORKERS: '2',
      SFU_PEER_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'info',
    },
    // Its own process group, so the tsx wrapper, node and the mediasoup workers can all be reaped.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  serverExit = new Promise((resolve) => child.once('exit', () => resolve()));
  child.stdout?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the platform exited with ${child.exitCode} before it was ready:\n${serverOutput}`);
    const healthy = await fetch(`${baseUrl}/api/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy && serverOutput.includes('Concord is running')) break;
    if (Date.now() > deadline) throw new Error(`the platform was not healthy within 30 s:\n${serverOutput}`);
    await sleep(200);
  }
  // The launcher names the ports its workers serve WebRTC on: they must be the ones we chose.
  expect(serverOutput).toContain(`UDP/TCP ports ${rtcPorts.join(', ')}`);
}, 45_000);

afterAll(async () => {
  await Promise.all(people.map((p) => (p.killed ? undefined : p.browser.close().catch(() => undefined))));
  for (const p of people) killGroup(p.browser.process()?.pid, 'SIGKILL');
  if (server?.pid !== undefined && server.exitCode === null) {
    // tsx passes SIGTERM on to the launcher, which shuts down gracefully; the group goes if it hangs.
    const pid = server.pid;
    process.kill(pid, 'SIGTERM');
    const hardKill = setTimeout(() => killGroup(pid, 'SIGKILL'), 8_000);
    await serverExit;
    clearTimeout(hardKill);
  }
  // Stragglers of the group (mediasoup workers) once the launcher is gone.
  killGroup(server?.pid, 'SIGKILL');
  if (failed) {
    console.log(`platform output:\n${serverOutput.split('\n').slice(-300).join('\n')}`);
    for (const p of people) if (p.errors.length) console.log(`${p.name}'s browser errors:\n${p.errors.join('\n')}`);
  }
  fs.rmSync(profilesDir, { recursive: true, force: true });
}, 30_000);

/** A test whose failure also prints the platform's output (in afterAll). */
function step(name: string, body: () => Promise<void>, timeoutMs: number): void {
  test(
    name,
    async () => {
      try {
        if (failed) throw new Error('an earlier step failed; this one depends on it');
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    timeoutMs,
  );
}

describe('a call in three browsers through the SFU', () => {
  step(
    'three people sign up in the UI and join the same room',
    async () => {
      // Kept in order (three() relies on it); whatever started is closed in afterAll even if one fails.
      const launched = await Promise.allSettled(['alice', 'bob', 'carol'].map(launch));
      for (const result of launched) if (result.status === 'fulfilled') people.push(result.value);
      for (const result of launched) if (result.status === 'rejected') throw result.reason;
      await Promise.all(people.map((p) => signUpAndJoin(p)));
      expect(new Set(people.map((p) => p.userId)).size).toBe(3);
      expectNoErrors();
    },
    40_000,
  );

  step(
    'everyone decodes everyone else’s camera and microphone, over the SFU’s ports',
    async () => {
      for (const p of people) {
        // A camera tile for each participant: their own one local, the two others remote.
        await waitUntil(`${p.name} sees a camera tile for each participant`, () => tiles(p), (ts) =>
          people.every((q) => ts.some((t) => t.user === q.userId && t.source === 'camera' && t.local === (q === p))),
        );
      }
      await Promise.all(
        people.map(async (p) => {
          const others = people.filter((q) => q !== p);
          await expectVideoPlaying(p, others, 'camera');
          await waitUntil(`${p.name} plays the others' microphones`, () => tiles(p), (ts) =>
            others.every((q) => tileOf(ts, q, 'camera')?.audio === 'live'),
          );
        }),
      );

      // The receive transport's own counters rise, and its ICE pair ends at the SFU.
      await Promise.all(
        people.map(async (p) => {
          const before = await stats(p);
          await waitUntil(`${p.name}'s recv stats rise (from ${JSON.stringify(before)})`, () => stats(p), (now) =>
            now.video.framesDecoded >= before.video.framesDecoded + 10 &&
            now.video.packetsReceived > before.video.packetsReceived &&
            now.audio.packetsReceived >= before.audio.packetsReceived + 20 &&
            now.audio.totalSamplesReceived > before.audio.totalSamplesReceived,
          );
          // Media from the SFU's WebRtcServer ports, never straight from another browser.
          const pair = (await stats(p)).selectedCandidatePair;
          const viaSfu = pair?.remoteAddress === '127.0.0.1' && rtcPorts.includes(pair.remotePort);
          expect({ who: p.name, pair, viaSfu, sfuPorts: rtcPorts }).toMatchObject({ viaSfu: true });
        }),
      );
      expectNoErrors();
    },
    30_000,
  );

  step(
    'a screen share reaches the others as its own tile and goes away when stopped',
    async () => {
      const [alice, bob, carol] = three();
      await alice.page.click('[data-testid=toggle-screen]');
      await waitUntil('alice shares the screen', () => attribute(alice, 'toggle-screen', 'aria-pressed'), (v) => v === 'true');
      await waitUntil('alice sees her own screen tile', () => tiles(alice), (ts) => tileOf(ts, alice, 'screen')?.local === true);
      await Promise.all([bob, carol].map((p) => expectVideoPlaying(p, [alice], 'screen')));

      const screenshot = process.env.CONCORD_E2E_SCREENSHOT;
      if (screenshot) await bob.page.screenshot({ path: screenshot as `${string}.png` });

      await alice.page.click('[data-testid=toggle-screen]');
      await waitUntil('alice stops sharing', () => attribute(alice, 'toggle-screen', 'aria-pressed'), (v) => v === 'false');
      for (const p of people) {
        await waitUntil(`${p.name} no longer shows a screen tile`, () => tiles(p), (ts) => !ts.some((t) => t.source === 'screen'));
      }
      // Cameras carry on.
      await expectVideoPlaying(bob, [alice, carol], 'camera');
      expectNoErrors();
    },
    30_000,
  );

  step(
    'muting and stopping the camera show on the controls and on the others’ screens',
    async () => {
      const [alice, bob, carol] = three();
      const others = [bob, carol];

      await alice.page.click('[data-testid=toggle-mic]');
      await waitUntil('alice’s mic button shows off', () => attribute(alice, 'toggle-mic', 'aria-pressed'), (v) => v === 'false');
      for (const p of others) await waitUntil(`${p.name} sees alice muted`, () => tiles(p), (ts) => tileOf(ts, alice, 'camera')?.micOff === true);
      await alice.page.click('[data-testid=toggle-mic]');
      await waitUntil('alice’s mic button shows on', () => attribute(alice, 'toggle-mic', 'aria-pressed'), (v) => v === 'true');
      for (const p of others) {
        await waitUntil(`${p.name} sees alice unmuted`, () => tiles(p), (ts) => {
          const tile = tileOf(ts, alice, 'camera');
          return tile?.micOff === false && tile.audio === 'live';
        });
      }

      // Camera off: the tile stays (it carries her name and sound) but shows her initial, no video.
      await alice.page.click('[data-testid=toggle-camera]');
      await waitUntil('alice’s camera button shows off', () => attribute(alice, 'toggle-camera', 'aria-pressed'), (v) => v === 'false');
      for (const p of people) {
        await waitUntil(`${p.name} sees alice without video`, () => tiles(p), (ts) => {
          const tile = tileOf(ts, alice, 'camera');
          return tile?.avatar === true && tile.width === 0;
        });
      }
      await alice.page.click('[data-testid=toggle-camera]');
      await waitUntil('alice’s camera button shows on', () => attribute(alice, 'toggle-camera', 'aria-pressed'), (v) => v === 'true');
      await Promise.all(others.map((p) => expectVideoPlaying(p, [alice], 'camera')));
      expectNoErrors();
    },
    30_000,
  );

  step(
    'a browser that dies loses its media at once and its place after the grace period',
    async () => {
      const [alice, bob, carol] = three();
      const pid = carol.browser.process()?.pid;
      if (pid === undefined) throw new Error('carol’s Chromium has no process to kill');
      // The whole browser at once (renderer and network service too): no voice:leave, no goodbye.
      carol.killed = true;
      const killedAt = Date.now();
      killGroup(pid, 'SIGKILL');

      // Her transports close with the socket: the tile shows no video well before the grace ends…
      await Promise.all(
        [alice, bob].map((p) =>
          waitUntil(
            `${p.name} sees carol's media gone while her place is kept`,
            () => tiles(p),
            (ts) => {
              const tile = tileOf(ts, carol, 'camera');
              return tile?.avatar === true && tile.audio === 'none';
            },
            GRACE_MS - 500,
          ),
        ),
      );
      // …and the tile itself goes when the grace period lapses.
      await Promise.all(
        [alice, bob].map((p) =>
          waitUntil(`${p.name} no longer shows carol`, () => tiles(p), (ts) => !ts.some((t) => t.user === carol.userId), GRACE_MS + 4_000),
        ),
      );
      expect(Date.now() - killedAt).toBeLessThan(GRACE_MS + 4_000);
      await expectVideoPlaying(alice, [bob], 'camera');
      await expectVideoPlaying(bob, [alice], 'camera');
      expectNoErrors();
    },
    20_000,
  );

  step(
    'leaving clears the call for the one who left and for the one who stays',
    async () => {
      const [alice, bob] = three();
      const leftAt = Date.now();
      await bob.page.click('[data-testid=voice-leave]');
      await waitUntil('bob is disconnected', () => attribute(bob, 'voice-state', 'data-state'), (v) => v === 'disconnected');
      const bobsView = () =>
        bob.page.evaluate(() => ({
          tiles: document.querySelectorAll('[data-testid=participant-tile]').length,
          joinForm: document.querySelector('[data-testid=room-join]') !== null,
        }));
      await waitUntil('bob is back at the join form with no tiles', bobsView, (v) => v.tiles === 0 && v.joinForm);
      // An explicit leave is not a drop: alice loses bob at once, not after the grace period.
      await waitUntil('alice no longer shows bob', () => tiles(alice), (ts) => !ts.some((t) => t.user === bob.userId), GRACE_MS - 1_000);
      expect(Date.now() - leftAt).toBeLessThan(GRACE_MS);
      const own = await tiles(alice);
      expect(own.map((t) => ({ user: t.user, local: t.local }))).toEqual([{ user: alice.userId, local: true }]);
      expect(await attribute(alice, 'voice-state', 'data-state')).toBe('connected');
      expectNoErrors();
    },
    15_000,
  );
});

async function launch(name: string): Promise<Participant> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    userDataDir: fs.mkdtempSync(path.join(profilesDir, `${name}-`)),
    defaultViewport: { width: 1000, height: 640 },
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const participant: Participant = { name, browser, page, userId: '', errors: [], killed: false };
  page.on('console', (message) => {
    if (message.type() === 'error') participant.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => participant.errors.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
  return participant;
}

async function signUpAndJoin(p: Participant): Promise<void> {
  const { page } = p;
  await page.goto(baseUrl);
  await page.waitForSelector('[data-testid=auth-mode]', { timeout: 10_000 });
  await page.click('[data-testid=auth-mode]');
  await page.waitForSelector('[data-testid=auth-display-name]', { timeout: 5_000 });
  await page.type('[data-testid=auth-email]', p.name);
  await page.type('[data-testid=auth-display-name]', p.name[0]!.toUpperCase() + p.name.slice(1));
  await page.type('[data-testid=auth-password]', 'correct horse battery');
  await page.click('[data-testid=auth-submit]');
  await page.waitForSelector('[data-testid=current-user]', { timeout: 10_000 });
  p.userId = (await attribute(p, 'current-user', 'data-user-id')) ?? '';
  expect(p.userId).not.toBe('');
  await page.type('[data-testid=room-name]', ROOM);
  await page.click('[data-testid=room-join]');
  await waitUntil(`${p.name} is connected`, () => attribute(p, 'voice-state', 'data-state'), (v) => v === 'connected', 20_000);
}

function three(): [Participant, Participant, Participant] {
  const [a, b, c] = people;
  if (!a || !b || !c) throw new Error('the participants did not start');
  return [a, b, c];
}

function tiles(p: Participant): Promise<Tile[]> {
  return p.page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid=participant-tile]'), (el): Tile => {
      const video = el.querySelector('video') as DomVideo | null;
      const audio = el.querySelector('audio') as DomAudio | null;
      const track = audio?.srcObject?.getAudioTracks()[0];
      return {
        user: el.dataset.userId ?? '',
        source: el.dataset.source ?? '',
        local: el.dataset.local === 'true',
        frames: video?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
        width: video?.srcObject ? video.videoWidth : 0,
        avatar: el.querySelector('.avatar') !== null,
        micOff: el.querySelector('.muted-mic') !== null,
        audio: !audio ? 'none' : track && track.readyState === 'live' && !track.muted && !audio.paused ? 'live' : 'waiting',
      };
    }),
  );
}

const tileOf = (ts: Tile[], who: Participant, source: 'camera' | 'screen'): Tile | undefined =>
  ts.find((t) => t.user === who.userId && t.source === source);

/** Each of `senders`' `source` tiles in `p`'s view shows video whose frame count keeps rising. */
async function expectVideoPlaying(p: Participant, senders: Participant[], source: 'camera' | 'screen'): Promise<void> {
  const what = `${p.name} plays ${senders.map((s) => s.name).join(' and ')}'s ${source}`;
  const first = await waitUntil(`${what} (a decoded frame)`, () => tiles(p), (ts) =>
    senders.every((s) => {
      const tile = tileOf(ts, s, source);
      return !!tile && !tile.local && tile.width > 0 && tile.frames > 0;
    }),
  );
  await waitUntil(`${what} (frames keep coming)`, () => tiles(p), (ts) =>
    senders.every((s) => (tileOf(ts, s, source)?.frames ?? 0) >= (tileOf(first, s, source)?.frames ?? 0) + 10),
  );
}

async function stats(p: Participant): Promise<RecvStats> {
  const summary = await p.page.evaluate(() => window.__concord?.stats() ?? null);
  if (!summary) throw new Error(`${p.name} has no live call to take stats of`);
  return summary;
}

function attribute(p: Participant, testId: string, name: string): Promise<string | null> {
  return p.page.evaluate((id, attr) => document.querySelector(`[data-testid=${id}]`)?.getAttribute(attr) ?? null, testId, name);
}

/** Polls `probe` until `done` holds, for at most `timeoutMs`; the error names what was awaited and the last value seen. */
async function waitUntil<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      // User ids shown as the participants' names.
      const named = JSON.stringify(value, (_key, v: unknown) => people.find((p) => p.userId !== '' && p.userId === v)?.name ?? v, 1);
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; last seen:\n${named}`);
    }
    await sleep(100);
  }
}

/** No console error or uncaught exception in a live browser, no error logged by the platform. */
function expectNoErrors(): void {
  expect(people.filter((p) => !p.killed).flatMap((p) => p.errors.map((e) => `${p.name}: ${e}`))).toEqual([]);
  expect(serverErrors()).toEqual([]);
}

/** pino lines at error level or above (50+): a crashed worker, a failed request. */
function serverErrors(): string[] {
  return serverOutput.split('\n').filter((line) => /"level":(5|6)\d/.test(line));
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
