import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_ARGS } from '@concord/testkit/src/browser';
import type { BrowserEntry } from '../setup';
import { descendantsOf } from '../target/proc';

/**
 * A fully realistic participant: headless Chromium running the web app with a fake camera and
 * microphone, signed in and joined through its UI (the data-testid contract), measured through
 * the app's `window.__concord.stats()` hook. Heavy (a few of them fill a core): for the last word
 * on join time and decoding, not for load.
 */

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
const CLOSE_TIMEOUT_MS = 5_000;

/** What the web app's diagnostics hook reports (web/src/call/diagnostics.ts). */
export interface RecvStats {
  audio: { packetsReceived: number; totalSamplesReceived: number };
  video: { packetsReceived: number; framesDecoded: number };
}

export interface BrowserTimeline {
  userName: string;
  /** performance.now() when it clicked "join voice" (signed in and on the channel already). */
  startedAt: number;
  connectedAt?: number;
  /** The first video frame decoded. */
  firstFrameAt?: number;
  error?: string;
}

export class BrowserParticipant {
  readonly timeline: BrowserTimeline;
  readonly #browser: Browser;
  readonly #page: Page;
  readonly #profile: string;

  private constructor(userName: string, browser: Browser, page: Page, profile: string) {
    this.timeline = { userName, startedAt: performance.now() };
    this.#browser = browser;
    this.#page = page;
    this.#profile = profile;
  }

  static async launch(userName: string): Promise<BrowserParticipant> {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'concord-loadtest-browser-'));
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, userDataDir: profile, defaultViewport: { width: 1000, height: 640 } });
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    return new BrowserParticipant(userName, browser, page, profile);
  }

  /** Signs in, opens the room's voice channel, joins; never throws (a failure is in the timeline). */
  async join(baseUrl: string, entry: BrowserEntry): Promise<void> {
    const page = this.#page;
    try {
      await page.goto(baseUrl);
      await page.waitForSelector('[data-testid=auth-email]', { timeout: STEP_TIMEOUT_MS });
      await page.type('[data-testid=auth-email]', entry.userName);
      await page.type('[data-testid=auth-password]', entry.password);
      await page.click('[data-testid=auth-submit]');
      await page.waitForSelector('[data-testid=current-user]', { timeout: STEP_TIMEOUT_MS });
      await page.goto(new URL(entry.path, baseUrl).href);
      await page.waitForSelector('[data-testid=voice-join]:not([disabled])', { timeout: STEP_TIMEOUT_MS });
      this.timeline.startedAt = performance.now();
      await page.click('[data-testid=voice-join]');
      await page.waitForSelector('[data-testid=voice-state][data-state=connected]', { timeout: STEP_TIMEOUT_MS });
      this.timeline.connectedAt = performance.now();
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (((await this.stats())?.video.framesDecoded ?? 0) === 0) {
        if (Date.now() > deadline) throw new Error('no video frame decoded');
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      this.timeline.firstFrameAt = performance.now();
    } catch (error) {
      this.timeline.error = error instanceof Error ? error.message : String(error);
    }
  }

  /** Chromium's processes (browser, renderers, GPU, network…), for the CPU they take from the machine. */
  pids(): number[] {
    const pid = this.#browser.process()?.pid;
    return pid === undefined ? [] : [pid, ...descendantsOf(pid)];
  }

  /** The call's receive counters, or null when no call is live. */
  stats(): Promise<RecvStats | null> {
    // A string, so the page's `window` needs no DOM types here.
    return this.#page.evaluate('window.__concord ? window.__concord.stats() : null') as Promise<RecvStats | null>;
  }

  async close(): Promise<void> {
    const closed = this.#browser.close().catch(() => undefined);
    const timer = new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS));
    await Promise.race([closed, timer]);
    // Our own child: if it did not close in time, it goes now.
    const pid = this.#browser.process()?.pid;
    if (pid !== undefined && this.#browser.connected) process.kill(pid, 'SIGKILL');
    rmSync(this.#profile, { recursive: true, force: true });
  }
}
