import os from 'node:os';
import { io } from 'socket.io-client';
import { DEFAULT_EVERYONE_PERMISSIONS, Permission, SessionResponse, VoiceGrantResponse, voiceNamespaceUrl, type Result } from '@concord/protocol';
import { attribute, closePeople, launchPerson, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { expectVideoPlaying, tileOf, tiles } from '@concord/testkit/src/call-probes';
import { sleep, waitUntil } from '@concord/testkit/src/wait';

/*
 * Removal from a voice channel takes effect at once, in real browsers against `npm start`'s
 * launcher: Alice (the owner) and Bob are in a call, each decoding the other's camera; whatever
 * takes Bob's right to be there away (a kick, a ban, CONNECT or VIEW_CHANNEL lost) stops his
 * decoded video within a second, tells him why, and Alice sees him leave; a grant Bob fetched just
 * before is refused at join. Deleting the channel, or the server, ends the call for both.
 */

declare const window: { __concord?: { stats(): Promise<unknown> }; localStorage: { getItem(key: string): string | null } };

let platform: Platform;
const people: Person[] = [];
let failed = false;
/** Each browser's session token, for the owner's moderation through the API and Bob's old grants. */
const tokens = new Map<string, string>();
let serverId = '';
let voiceId = '';

const cast = (): [Person, Person] => people as [Person, Person];
const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;

beforeAll(async () => {
  platform = await startPlatform({ workers: 1 });
  failed = true; // until set up: a failure here prints the platform's output too
  const launched = await Promise.allSettled(['alice', 'bob'].map((name) => launchPerson(name, platform.dir)));
  for (const result of launched) if (result.status === 'fulfilled') people.push(result.value);
  for (const result of launched) if (result.status === 'rejected') throw result.reason;
  await Promise.all(people.map((p) => signUp(p, platform.url)));
  for (const p of people) tokens.set(p.name, await sessionToken(p));
  const server = (await api('POST', '/servers', tokens.get('alice')!, { name: 'Removals' })) as { id: string };
  serverId = server.id;
  const channels = (await api('GET', `/servers/${serverId}/channels`, tokens.get('alice')!)) as { id: string; kind: string }[];
  voiceId = channels.find((channel) => channel.kind === 'voice')!.id;
  failed = false;
}, 90_000);

afterAll(async () => {
  if (failed) {
    for (const p of people) {
      const file = `${os.tmpdir()}/concord-removal-${p.name}.png` as const;
      if (await p.page.screenshot({ path: file }).then(() => true, () => false)) console.log(`${p.name}'s screen: ${file}`);
    }
  }
  await closePeople(people);
  if (failed) {
    console.log(`platform output:\n${platform?.output().split('\n').slice(-200).join('\n')}`);
    for (const p of people) if (p.errors.length) console.log(`${p.name}'s browser errors:\n${p.errors.join('\n')}`);
  }
  await platform?.stop();
}, 30_000);

/** A test whose failure also prints the platform's output (in afterAll). */
const step = (name: string, body: () => Promise<void>): void =>
  test(name, () => body().catch((error: unknown) => ((failed = true), Promise.reject(error))), 60_000);

describe('removal from a voice channel, in the browser', () => {
  step('a kicked member’s call ends within a second; the owner sees him leave; his older grant is refused', async () => {
    await bothInCall();
    await expectRemoved(() => api('DELETE', `/servers/${serverId}/members/${bobId()}`, tokens.get('alice')!), 'You were removed from this server');
  });

  step('so does a banned member’s', async () => {
    await bothInCall();
    await expectRemoved(() => api('PUT', `/servers/${serverId}/bans/${bobId()}`, tokens.get('alice')!, {}), 'You were banned from this server');
    await api('DELETE', `/servers/${serverId}/bans/${bobId()}`, tokens.get('alice')!);
  });

  step('so does that of a member who loses CONNECT through a channel overwrite', async () => {
    await bothInCall();
    const overwrite = `/channels/${voiceId}/overwrites/member/${bobId()}`;
    await expectRemoved(() => api('PUT', overwrite, tokens.get('alice')!, { allow: 0, deny: Permission.CONNECT }), 'You may no longer join this voice channel');
    await api('DELETE', overwrite, tokens.get('alice')!);
  });

  step('so does that of a member who loses VIEW_CHANNEL through a role edit', async () => {
    await bothInCall();
    const everyone = `/servers/${serverId}/roles/${await everyoneRoleId()}`;
    await expectRemoved(
      () => api('PATCH', everyone, tokens.get('alice')!, { permissions: DEFAULT_EVERYONE_PERMISSIONS & ~Permission.VIEW_CHANNEL }),
      'You may no longer join this voice channel',
    );
    await api('PATCH', everyone, tokens.get('alice')!, { permissions: DEFAULT_EVERYONE_PERMISSIONS });
  });

  step('deleting the voice channel ends the call for everyone in it', async () => {
    await bothInCall();
    await expectCallsEnd(() => api('DELETE', `/channels/${voiceId}`, tokens.get('alice')!), 'This voice channel was deleted');
  });

  step('deleting the server ends the call for everyone in it', async () => {
    const created = (await api('POST', `/servers/${serverId}/channels`, tokens.get('alice')!, { name: 'Second', kind: 'voice' })) as { id: string };
    voiceId = created.id;
    await bothInCall();
    await expectCallsEnd(() => api('DELETE', `/servers/${serverId}`, tokens.get('alice')!), 'This server was deleted');
  });
});

// ---------------------------------------------------------------- helpers

const bobId = () => cast()[1].userId;

/** The session the page signed in with (web/src/auth/session.ts keeps it in localStorage). */
async function sessionToken(p: Person): Promise<string> {
  const stored = await p.page.evaluate(() => window.localStorage.getItem('concord.session'));
  return (JSON.parse(stored ?? 'null') as { session: SessionResponse } | null)?.session.token ?? '';
}

async function everyoneRoleId(): Promise<string> {
  const roles = (await api('GET', `/servers/${serverId}/roles`, tokens.get('alice')!)) as { id: string; isEveryone: boolean }[];
  return roles.find((role) => role.isEveryone)!.id;
}

/** Bob is a member (by a fresh invite if need be); both open the voice channel, join, and decode each other's camera. */
async function bothInCall(): Promise<void> {
  const [alice, bob] = cast();
  const members = (await api('GET', `/servers/${serverId}/members`, tokens.get('alice')!)) as { user: { id: string } }[];
  if (!members.some((member) => member.user.id === bob.userId)) {
    const invite = (await api('POST', `/servers/${serverId}/invites`, tokens.get('alice')!, {})) as { code: string };
    await api('POST', `/invites/${invite.code}/accept`, tokens.get('bob')!);
  }
  for (const p of [alice, bob]) {
    if ((await attribute(p.page, 'voice-state', 'data-state')) === 'connected' && (await tiles(p)).length > 0) continue;
    await p.page.goto(`${platform.url}/channels/${serverId}/${voiceId}`);
    await p.page.waitForSelector(sel('voice-join', ':not([disabled])'), { timeout: 15_000 });
    await p.page.click(sel('voice-join'));
    await waitUntil(`${p.name} is connected`, () => attribute(p.page, 'voice-state', 'data-state'), (v) => v === 'connected', 20_000);
  }
  await Promise.all([expectVideoPlaying(alice, [bob], 'camera'), expectVideoPlaying(bob, [alice], 'camera')]);
}

/** Whether the page has a live call at all (a receive transport to take stats of). */
const hasCall = (p: Person): Promise<boolean> => p.page.evaluate(async () => (await window.__concord?.stats()) != null);

/** `remove` takes Bob's right to be in the call away: his call must end at once, and for good. */
async function expectRemoved(remove: () => Promise<unknown>, told: string): Promise<void> {
  const [alice, bob] = cast();
  // Fetched just before, well within its lifetime.
  const oldGrant = VoiceGrantResponse.parse(await api('POST', '/voice/grant', tokens.get('bob')!, { roomId: voiceId })).grant;
  const removedAt = Date.now();
  await remove();
  await videoStopsWithinASecond(bob, alice, removedAt);
  await waitUntil('bob is told why', () => bob.page.$eval(sel('call-error'), (el) => el.textContent ?? '').catch(() => ''), (text) => text.includes(told), 5_000);
  await waitUntil('alice sees bob leave', () => tiles(alice), (ts) => !ts.some((t) => t.user === bob.userId), 5_000);
  expect(await attribute(alice.page, 'voice-state', 'data-state')).toBe('connected');
  // Bob's client does not rejoin, and his grant from before is refused at join.
  await sleep(1_500);
  expect({ call: await hasCall(bob), tiles: (await tiles(bob)).length }).toEqual({ call: false, tiles: 0 });
  expect(await joinWith(tokens.get('bob')!, oldGrant)).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID', message: expect.stringMatching(/predates a removal/) } });
}

/** The voice channel (or its server) goes away: both calls end at once and say why. */
async function expectCallsEnd(remove: () => Promise<unknown>, told: string): Promise<void> {
  const [alice, bob] = cast();
  const removedAt = Date.now();
  await remove();
  await Promise.all([videoStopsWithinASecond(bob, alice, removedAt), videoStopsWithinASecond(alice, bob, removedAt)]);
  for (const p of [alice, bob]) {
    await waitUntil(`${p.name} is told why`, () => p.page.$eval(sel('call-error'), (el) => el.textContent ?? '').catch(() => ''), (text) => text.includes(told), 5_000);
  }
}

/** `viewer` no longer decodes `sender`'s camera (its tile and its call are gone) within 1 s of `since`. */
async function videoStopsWithinASecond(viewer: Person, sender: Person, since: number): Promise<void> {
  await waitUntil(
    `${viewer.name}'s decoded video of ${sender.name} stops`,
    async () => ({ tile: tileOf(await tiles(viewer), sender, 'camera') ?? null, call: await hasCall(viewer) }),
    (seen) => seen.tile === null && !seen.call,
    5_000,
  );
  expect({ viewer: viewer.name, stoppedWithinASecond: Date.now() - since < 1_000 }).toEqual({ viewer: viewer.name, stoppedWithinASecond: true });
}

/** A voice join with `grant` over a socket of the session `token`, as any client could send it. */
async function joinWith(token: string, grant: string): Promise<Result<unknown>> {
  const socket = io(voiceNamespaceUrl(platform.url), { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return (await socket.timeout(5_000).emitWithAck('voice:join', { grant })) as Result<unknown>;
  } finally {
    socket.close();
  }
}

async function api(method: string, route: string, token: string | null, body?: unknown): Promise<unknown> {
  const response = await fetch(`${platform.url}/api${route}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}
