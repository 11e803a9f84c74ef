/**
 * The screenshots in docs/screenshots/, made from the real app: the platform on free ports and
 * three Chromium windows with fake cameras and screens, driven through the UI like a person would.
 *
 *   npx tsx scripts/screenshots.ts            # writes docs/screenshots/*.png
 *   npx tsx scripts/screenshots.ts /tmp/shots # somewhere else
 *
 * PNGs are reduced to a 256-colour palette with ffmpeg when it is installed (they stay crisp:
 * the UI has few colours), so they stay small in the repository.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { closePeople, launchPerson, ROOT, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { sleep, waitUntil } from '@concord/testkit/src/wait';
import { parseCommandLine, runCli, UsageError } from './cli';

const USAGE = `npx tsx scripts/screenshots.ts [DIR]

Writes the screenshots to DIR (default docs/screenshots/).
`;
const VIEWPORT = { width: 1280, height: 800 };
const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;

// Page callbacks run in the browser; the server tsconfig has no DOM lib.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

async function main(args: string[]): Promise<void> {
  const { positionals } = parseCommandLine({ args, options: {}, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError(`one output directory at most, got ${positionals.length}`);
  const out = path.resolve(positionals[0] ?? path.join(ROOT, 'docs/screenshots'));
  fs.mkdirSync(out, { recursive: true });
  const shoot = (page: Page, name: string) => screenshot(page, path.join(out, `${name}.png`));
  const platform = await startPlatform({ workers: 1, logLevel: 'warn', env: { MESSAGE_RATE_LIMIT: '1000/10s', MESSAGE_IP_RATE_LIMIT: '1000/10s' } });
  const people: Person[] = [];
  try {
    for (const name of ['alice', 'bob', 'carol']) people.push(await launchPerson(name, platform.dir, VIEWPORT));
    const [alice, bob, carol] = people as [Person, Person, Person];

    // 1. Sign-in.
    await alice.page.goto(platform.url);
    await alice.page.waitForSelector(sel('auth-submit'));
    await alice.page.type(sel('auth-email'), 'alice');
    await shoot(alice.page, 'sign-in');

    // 2. A server with some life in it.
    await signUp(alice, platform.url, 'Alice Martin');
    await signUp(bob, platform.url, 'Bob Chen');
    await signUp(carol, platform.url, 'Carol Diaz');
    const token = await sessionToken(alice.page);
    const tokens = { bob: await sessionToken(bob.page), carol: await sessionToken(carol.page) };
    const api = apiOf(platform);
    const server = await api<{ id: string }>('POST', '/servers', token, { name: 'Northwind Studio' });
    const channels = await api<{ id: string; name: string; kind: string }[]>('GET', `/servers/${server.id}/channels`, token);
    const general = channels.find((c) => c.kind === 'text')!;
    const standup = channels.find((c) => c.kind === 'voice')!;
    await api('PATCH', `/channels/${general.id}`, token, { topic: 'Say hi, share what you are working on' });
    await api('PATCH', `/channels/${standup.id}`, token, { name: 'Standup' });
    const projects = await api<{ id: string }>('POST', `/servers/${server.id}/channels`, token, { name: 'Projects', kind: 'category' });
    for (const name of ['design', 'launch-plan']) await api('POST', `/servers/${server.id}/channels`, token, { name, kind: 'text', parentId: projects.id });
    await api('POST', `/servers/${server.id}/channels`, token, { name: 'Focus room', kind: 'voice', parentId: projects.id });
    const random = await api<{ id: string }>('POST', `/servers/${server.id}/channels`, token, { name: 'random', kind: 'text' });
    const moderator = await api<{ id: string }>('POST', `/servers/${server.id}/roles`, token, { name: 'Moderator', colour: 0x3498db, permissions: 0x1f8 });
    await api('POST', `/servers/${server.id}/roles`, token, { name: 'Designer', colour: 0xe91e63, permissions: 0 });
    const invite = await api<{ code: string }>('POST', `/servers/${server.id}/invites`, token, { maxAgeSeconds: 86_400 });
    for (const who of ['bob', 'carol'] as const) await api('POST', `/invites/${invite.code}/accept`, tokens[who]);
    await api('PUT', `/servers/${server.id}/members/${bob.userId}/roles/${moderator.id}`, token);

    const say = async (from: string, content: string, replyToId?: string) =>
      (await api<{ id: string }>('POST', `/channels/${general.id}/messages`, from, { content, ...(replyToId && { replyToId }) })).id;
    await say(token, 'Morning all! The new onboarding flow is up on staging 🎉');
    const question = await say(tokens.bob, 'Nice! Did the copy changes from Friday make it in?');
    await say(token, `Yes, all of them. <@${bob.userId}> can you give it a last look before the release?`, question);
    await say(tokens.carol, 'I left notes on the empty states here: https://example.com/design/onboarding-v3');
    const demo = await say(tokens.bob, 'On it. Standup in 5? I can share my screen and walk through the flow.');
    await api('PUT', `/channels/${general.id}/messages/${demo}/reactions/${encodeURIComponent('👍')}/@me`, token);
    await api('PUT', `/channels/${general.id}/messages/${demo}/reactions/${encodeURIComponent('👍')}/@me`, tokens.carol);
    await api('PUT', `/channels/${general.id}/messages/${demo}/reactions/${encodeURIComponent('🔥')}/@me`, tokens.carol);
    await api('POST', `/channels/${random.id}/messages`, tokens.carol, { content: 'Who took the last oat milk?' });

    for (const p of people) {
      await p.page.goto(`${platform.url}/channels/${server.id}/${general.id}`);
      await p.page.waitForSelector(sel('message-item'));
    }
    // Carol is typing while Alice looks.
    await carol.page.type(sel('message-input'), 'Looks great');
    await waitUntil('alice sees carol typing', () => alice.page.evaluate(() => document.querySelector('[data-testid=typing-indicator]') !== null), (v) => v);
    await sleep(300);
    await shoot(alice.page, 'chat');

    // 3. A call of three with a screen share, from Carol's window.
    for (const p of people) {
      await p.page.click(sel('channel-item', `[data-channel-id="${standup.id}"]`));
    }
    for (const p of people) {
      await waitUntil(`${p.name} is connected`, () => p.page.evaluate(() => document.querySelector('[data-testid=voice-state]')?.getAttribute('data-state')), (v) => v === 'connected', 20_000);
    }
    await bob.page.click(sel('toggle-screen'));
    await waitUntil(
      'carol plays all video',
      () =>
        carol.page.evaluate(() =>
          Array.from(
            (document as unknown as { querySelectorAll(s: string): ArrayLike<{ videoWidth: number }> }).querySelectorAll('[data-testid=participant-tile] video'),
            (v) => v.videoWidth,
          ),
        ),
      (widths) => widths.length === 4 && widths.every((w) => w > 0),
      20_000,
    );
    await sleep(1_500);
    await shoot(carol.page, 'call');
    await carol.page.click(`${sel('participant-tile', '[data-source=screen]')} ${sel('tile-focus')}`);
    await sleep(1_000);
    await shoot(carol.page, 'call-focus');

    // 4. Server settings: roles and their permissions.
    await alice.page.click(sel('channel-item', `[data-channel-id="${general.id}"]`));
    await alice.page.click(sel('server-menu'));
    await alice.page.click(sel('server-settings'));
    // The settings dialog loads on first open (its own chunk).
    await alice.page.waitForSelector(sel('settings-tab-roles'), { timeout: 10_000 });
    await alice.page.click(sel('settings-tab-roles'));
    await alice.page.click(sel('role-item', `[data-role-id="${moderator.id}"]`));
    await sleep(300);
    await shoot(alice.page, 'server-settings');
    await alice.page.keyboard.press('Escape');

    // 5. A narrow window: the chat, then the drawer with servers and channels.
    await bob.page.setViewport({ width: 390, height: 780 });
    await bob.page.click(sel('channel-item', `[data-channel-id="${general.id}"]`)).catch(() => undefined);
    await bob.page.goto(`${platform.url}/channels/${server.id}/${general.id}`);
    await bob.page.waitForSelector(sel('message-item'));
    await sleep(500);
    await shoot(bob.page, 'mobile-chat');
    await bob.page.click('.nav-toggle');
    await sleep(400);
    await shoot(bob.page, 'mobile-channels');

    const errors = people.flatMap((p) => p.errors.map((e) => `${p.name}: ${e}`));
    if (errors.length) console.warn(`browser errors:\n${errors.join('\n')}`);
    console.log(`screenshots written to ${out}`);
  } finally {
    await closePeople(people);
    await platform.stop();
  }
}

function apiOf(platform: Platform) {
  return async <T>(method: string, route: string, token: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${platform.url}/api${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };
}

/** The signed-in session's token, as the web client keeps it (read as text: the server tsconfig has no DOM lib). */
async function sessionToken(page: Page): Promise<string> {
  return (await page.evaluate("JSON.parse(localStorage.getItem('concord.session') ?? '{}').session.token")) as string;
}

async function screenshot(page: Page, file: string): Promise<void> {
  await page.screenshot({ path: file as `${string}.png` });
  try {
    // A palette of 256 colours: the UI is flat, so this loses nothing visible and shrinks the file.
    const reduced = `${file}.tmp.png`;
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', file, '-vf', 'split[a][b];[a]palettegen=max_colors=256:stats_mode=diff[p];[b][p]paletteuse=dither=none', reduced]);
    fs.renameSync(reduced, file);
  } catch {
    // No ffmpeg: the full-colour PNG stays.
  }
  console.log(`${path.basename(file)} ${Math.round(fs.statSync(file).size / 1024)} kB`);
}

runCli('screenshots', USAGE, main);
