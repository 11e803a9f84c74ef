/*
 * The deployment test's two browsers (tests/deploy/cluster-check.ts): real Chromium pages on the
 * compose cluster's nginx, each pinned to one signaling container by nginx's affinity cookie, in a
 * call whose video each decodes from the other through an SFU container.
 */
import { io } from 'socket.io-client';
import { attribute, launchPerson, signUp, type Person } from '@concord/testkit/src/browser';
import { expectVideoPlaying, stats } from '@concord/testkit/src/call-probes';
import { eventually, waitUntil } from '@concord/testkit/src/wait';

declare const window: { localStorage: { getItem(key: string): string | null } };

/** The cookie nginx hashes /socket.io/ requests on (docker/nginx/concord.conf). */
export const AFFINITY_COOKIE = 'concord_signaling';

const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;

/** concord_signaling_sockets of the signaling container whose ops port is `port`. */
export async function socketCount(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^concord_signaling_sockets (\d+)/m.exec(text)?.[1] ?? NaN);
}

/**
 * An affinity cookie value nginx sends to each of the signaling containers whose ops ports are
 * `opsPorts`: found by opening one socket per candidate value and seeing whose count rises.
 */
export async function cookiesPerContainer(lb: string, token: string, opsPorts: number[]): Promise<string[]> {
  const found = new Map<number, string>();
  for (let i = 0; i < 32 && found.size < opsPorts.length; i++) {
    const value = `deploy-test-${i}`;
    const before = await Promise.all(opsPorts.map(socketCount));
    const socket = io(lb, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: `${AFFINITY_COOKIE}=${value}` } });
    try {
      await eventually(() => socket.connected, 10_000, `a socket with ${AFFINITY_COOKIE}=${value} connected`);
      const after = await Promise.all(opsPorts.map(socketCount));
      const port = opsPorts.find((_, index) => after[index]! > before[index]!);
      if (port !== undefined && !found.has(port)) found.set(port, value);
    } finally {
      socket.close();
    }
  }
  if (found.size < opsPorts.length) throw new Error(`no affinity cookie reached each of ${opsPorts.join(', ')}: ${JSON.stringify([...found])}`);
  return opsPorts.map((port) => found.get(port)!);
}

/** A Chromium whose /socket.io/ requests carry `cookie`, signed up through the UI; answers it with its session token. */
export async function personPinnedTo(name: string, dir: string, lb: string, cookie: string): Promise<{ person: Person; token: string }> {
  const person = await launchPerson(name, dir);
  await person.page.setCookie({ name: AFFINITY_COOKIE, value: cookie, url: `${lb}/socket.io/`, path: '/socket.io/' });
  await signUp(person, lb);
  const stored = await person.page.evaluate(() => window.localStorage.getItem('concord.session'));
  const token = (JSON.parse(stored ?? 'null') as { session: { token: string } } | null)?.session.token;
  if (!token) throw new Error(`${name} has no session after signing up`);
  return { person, token };
}

/** The affinity cookie the page holds now (nginx sets it on every /socket.io/ answer). */
export async function affinityOf(p: Person, lb: string): Promise<string | undefined> {
  return (await p.page.cookies(`${lb}/socket.io/`)).find((cookie) => cookie.name === AFFINITY_COOKIE)?.value;
}

/** Opens a channel from the list, as a click does: a call in progress goes on. */
export async function openChannel(p: Person, channelId: string): Promise<void> {
  const item = sel('channel-item', `[data-channel-id="${channelId}"]`);
  await p.page.waitForSelector(item, { timeout: 30_000 });
  await p.page.click(item);
}

/** `sender` types `text` into the open text channel; every one of `readers` shows it. */
export async function chatInPages(sender: Person, readers: Person[], text: string): Promise<void> {
  await sender.page.waitForSelector(sel('message-input'), { timeout: 30_000 });
  await sender.page.type(sel('message-input'), text);
  await sender.page.keyboard.press('Enter');
  for (const p of readers) {
    await waitUntil(`${p.name} shows “${text}”`, () => p.page.$$eval(sel('message-content'), (els) => els.map((el) => el.textContent ?? '')), (texts) => texts.some((t) => t.includes(text)), 30_000);
  }
}

/** The page opens the voice channel (by its address) and joins it. */
export async function joinCall(p: Person, lb: string, serverId: string, voiceId: string): Promise<void> {
  await p.page.goto(`${lb}/channels/${serverId}/${voiceId}`);
  await p.page.waitForSelector(sel('voice-join', ':not([disabled])'), { timeout: 60_000 });
  await p.page.click(sel('voice-join'));
  await callConnected(p);
}

export const callConnected = (p: Person, timeoutMs = 60_000): Promise<unknown> =>
  waitUntil(`${p.name}'s call is connected`, () => attribute(p.page, 'voice-state', 'data-state'), (state) => state === 'connected', timeoutMs);

/**
 * Each page plays the other's camera and its receive transport keeps decoding: framesDecoded rises
 * by at least 30 (a second of the fake camera), over a transport whose remote end is an SFU
 * container's media port (`rtcPorts`). Answers the frames decoded in the window, per page.
 */
export async function expectMediaBothWays(a: Person, b: Person, rtcPorts: (port: number) => boolean, timeoutMs = 60_000): Promise<Record<string, number>> {
  const decoded: Record<string, number> = {};
  await Promise.all(
    [
      [a, b],
      [b, a],
    ].map(async ([viewer, sender]) => {
      await expectVideoPlaying(viewer!, [sender!], 'camera', timeoutMs);
      const before = await stats(viewer!);
      const after = await waitUntil(`${viewer!.name} keeps decoding ${sender!.name}'s video`, () => stats(viewer!), (now) => now.video.framesDecoded >= before.video.framesDecoded + 30, timeoutMs);
      const pair = after.selectedCandidatePair;
      if (!pair || pair.remoteAddress !== '127.0.0.1' || !rtcPorts(pair.remotePort)) throw new Error(`${viewer!.name}'s media does not end at an SFU container: ${JSON.stringify(pair)}`);
      decoded[viewer!.name] = after.video.framesDecoded - before.video.framesDecoded;
    }),
  );
  return decoded;
}

/** Screenshots of the pages, for a failed run: their paths. */
export async function screenshots(people: Person[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of people) {
    const file = `/tmp/concord-deploy-${p.name}.png` as const;
    if (await p.page.screenshot({ path: file }).then(() => true, () => false)) files.push(`${file} (${p.page.url()})`);
  }
  return files;
}
