/**
 * `npm run bench:web`: how fast the web client is for a person, measured in a real Chromium against
 * the real platform, and written to the "Web client" section of docs/benchmarks.md.
 *
 *   - app load to interactive: from navigation to the composer being usable with the channel's
 *     latest messages on screen (signed in; with an empty and with a warm HTTP cache);
 *   - channel switch to messages visible: from the click on a channel to its latest message on
 *     screen (first visit, which fetches the history, and a return visit).
 *
 *   npm run bench:web                 # 7 runs each, writes docs/benchmarks.md
 *   npm run bench:web -- --runs 15 --no-write
 *   BENCH_TRACE=1 npm run bench:web   # also prints one load's requests as [path, start, end] (ms)
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { closePeople, launchPerson, PASSWORD, startPlatform, type Person } from '@concord/testkit/src/browser';
import { writeBenchmarkSection } from './benchmarks-doc';
import { parseCommandLine, runCli, UsageError } from './cli';

const USAGE = `npm run bench:web -- [options]

  --runs N      runs per load figure (default 7)
  --no-write    print the results only; do not update docs/benchmarks.md
`;
const CHANNELS = 6;
const MESSAGES = 50;

function parseOptions(args: string[]): { runs: number; write: boolean } {
  const { values } = parseCommandLine({ args, options: { runs: { type: 'string' }, 'no-write': { type: 'boolean' } } });
  const runs = Number(values.runs ?? 7);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs must be an integer in 1..100, got "${values.runs}"`);
  return { runs, write: !values['no-write'] };
}

async function main(args: string[]): Promise<void> {
  const { runs: RUNS, write } = parseOptions(args);
  const platform = await startPlatform({ workers: 1, logLevel: 'warn', env: { MESSAGE_RATE_LIMIT: '100000/10s', MESSAGE_IP_RATE_LIMIT: '100000/10s' } });
  const people: Person[] = [];
  try {
    // A server with a few busy channels, written through the API.
    const api = async <T>(method: string, route: string, token: string | null, body?: unknown): Promise<T> => {
      const response = await fetch(`${platform.url}/api${route}`, {
        method,
        headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
      return (response.status === 204 ? undefined : await response.json()) as T;
    };
    const session = await api<{ token: string; user: { id: string } }>('POST', '/auth/local/signup', null, { username: 'bench', password: PASSWORD, displayName: 'Bench' });
    const server = await api<{ id: string }>('POST', '/servers', session.token, { name: 'Benchmarks' });
    const channels: string[] = [];
    for (let c = 0; c < CHANNELS; c++) {
      const channel = await api<{ id: string }>('POST', `/servers/${server.id}/channels`, session.token, { name: `channel-${c}`, kind: 'text' });
      channels.push(channel.id);
      for (let m = 1; m <= MESSAGES; m++) {
        await api('POST', `/channels/${channel.id}/messages`, session.token, { content: `message ${m} of channel ${c}: ${'lorem ipsum dolor sit amet '.repeat(1 + (m % 4))}` });
      }
    }

    const person = await launchPerson('bench', platform.dir);
    people.push(person);
    const { page } = person;
    await page.goto(platform.url);
    await page.evaluate(`localStorage.setItem('concord.session', ${JSON.stringify(JSON.stringify({ session, provider: 'local' }))})`);
    const cdp = await page.createCDPSession();

    const first = `${platform.url}/channels/${server.id}/${channels[0]}`;
    // Watches every page from its first byte: the moment it is interactive is kept in window.__readyAt.
    // (Page code is given as text: tsx would wrap named functions in a helper the page does not have.)
    await page.evaluateOnNewDocument(`(() => {
      const last = ${JSON.stringify(`message ${MESSAGES} of channel 0`)};
      const ready = function () {
        const input = document.querySelector('[data-testid=message-input]');
        const contents = document.querySelectorAll('[data-testid=message-content]');
        const content = contents[contents.length - 1];
        return !!input && !input.disabled && !!content && content.textContent.startsWith(last);
      };
      const observer = new MutationObserver(function () {
        if (!ready()) return;
        observer.disconnect();
        requestAnimationFrame(function () { window.__readyAt = performance.now(); });
      });
      observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    const loadToInteractive = async (): Promise<number> => {
      await page.goto(first, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction('window.__readyAt !== undefined', { timeout: 30_000 });
      return (await page.evaluate('window.__readyAt')) as number;
    };

    const cold: number[] = [];
    const warm: number[] = [];
    let assets = 0;
    for (let i = 0; i < RUNS; i++) {
      await cdp.send('Network.clearBrowserCache');
      cold.push(await loadToInteractive());
      // What a first visit downloads of scripts and styles.
      assets = (await page.evaluate(
        "performance.getEntriesByType('resource').filter((e) => /[.](js|css)$/.test(e.name)).reduce((sum, e) => sum + e.encodedBodySize, 0)",
      )) as number;
      warm.push(await loadToInteractive());
    }

    // Switching: each channel once for the first time, then back and forth between loaded ones.
    const switchTo = async (channelId: string, c: number): Promise<number> =>
      (await page.evaluate(`new Promise((resolve) => {
        const last = ${JSON.stringify(`message ${MESSAGES} of channel ${c}`)};
        const link = document.querySelector('[data-testid=channel-item][data-channel-id="${channelId}"]');
        const shown = function () {
          const contents = document.querySelectorAll('[data-testid=message-content]');
          const content = contents[contents.length - 1];
          return !!content && content.textContent.startsWith(last);
        };
        const start = performance.now();
        const observer = new MutationObserver(function () {
          if (!shown()) return;
          observer.disconnect();
          requestAnimationFrame(function () { resolve(performance.now() - start); });
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        link.click();
      })`)) as number;
    if (process.env.BENCH_TRACE) {
      await loadToInteractive();
      console.log(await page.evaluate("JSON.stringify(performance.getEntriesByType('resource').map((e) => [e.name.replace(/^.*?\\/\\/[^/]+/, ''), Math.round(e.startTime), Math.round(e.responseEnd)]).concat([['ready', window.__readyAt]]))"));
    }
    const firstVisit: number[] = [];
    const revisit: number[] = [];
    for (let c = 1; c < CHANNELS; c++) firstVisit.push(await switchTo(channels[c]!, c));
    for (let i = 0; i < RUNS; i++) {
      for (const c of [0, 1]) revisit.push(await switchTo(channels[c]!, c));
    }

    const rows = [
      ['App load to interactive, empty cache', cold],
      ['App load to interactive, warm cache', warm],
      ['Channel switch to messages visible, first visit', firstVisit],
      ['Channel switch to messages visible, return visit', revisit],
    ] as const;
    const chromium = execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const section = [
      '## Web client',
      '',
      `Measured by \`npm run bench:web\` (scripts/bench-web.ts) on ${new Date().toISOString().slice(0, 10)}: the platform in one process (\`npm start\`'s`,
      `launcher) and headless ${chromium} on the same machine (${os.cpus().length} cores, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}),`,
      `signed in, a server with ${CHANNELS} text channels of ${MESSAGES} messages each; ${RUNS} runs per load figure. Times in milliseconds.`,
      '',
      '| measurement | median | p90 | min | max | n |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map(([name, values]) => `| ${name} | ${fmt(quantile(values, 0.5))} | ${fmt(quantile(values, 0.9))} | ${fmt(Math.min(...values))} | ${fmt(Math.max(...values))} | ${values.length} |`),
      '',
      `- *Load to interactive*: from navigation start to the composer being enabled with the channel's latest message on screen (the page; its scripts and styles, ${Math.round(assets / 1024)} kB as the one-process launcher sends them, brotli-compressed, content-hashed and cached for a year; the sign-in check, servers, channels, roles, members and the latest ${MESSAGES} messages).`,
      '- *Channel switch*: from the click on a channel in the sidebar to its latest message on screen (next animation frame). A first visit fetches the history; a return visit shows what the client holds while it stays live.',
      "- Loopback network: no latency or bandwidth limit. On a real network add the round trips: about 5 in a row on load (the page, its scripts, the app's chunk, then servers, channels, roles and members together, then the messages) and 1 on a first visit.",
      '',
    ].join('\n');
    console.log(section);
    if (write) writeBenchmarkSection(section);
  } finally {
    await closePeople(people);
    await platform.stop();
  }
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const fmt = (ms: number) => ms.toFixed(0);

runCli('bench:web', USAGE, main);
