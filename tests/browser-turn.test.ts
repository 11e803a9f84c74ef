import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { SessionResponse, VoiceGrantResponse, type IceServer } from '@concord/protocol';
import { turnCredential } from '@concord/api/src/turn';
import { attribute, closePeople, launchPerson, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { expectVideoPlaying, stats, type RecvStats } from '@concord/testkit/src/call-probes';
import { startCoturn, type Coturn } from '@concord/testkit/src/coturn';
import { sleep, waitUntil } from '@concord/testkit/src/wait';
import type { HTTPRequest } from 'puppeteer-core';

/*
 * A call through TURN, in real browsers: a real coturn on 127.0.0.1 (use-auth-secret), the
 * platform handing out TURN credentials with each voice grant (TURN_URLS, TURN_SECRET), and two
 * Chromiums that may use relay candidates only (the "relay only" voice preference, i.e.
 * iceTransportPolicy 'relay'). Each must decode the other's camera over an ICE pair whose local
 * end is a TURN relay, and coturn must have made their allocations. A credential past its expiry
 * is refused by coturn (401, no relay candidate) and a relay-only join with one gets no media;
 * the shared secret appears in no grant and no log.
 */

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
interface PageIceCandidate {
  readonly type: string | null;
}
interface PagePeerConnection {
  onicecandidate: ((event: { candidate: PageIceCandidate | null }) => void) | null;
  onicecandidateerror: ((event: { errorCode: number }) => void) | null;
  createDataChannel(label: string): unknown;
  createOffer(): Promise<unknown>;
  setLocalDescription(description: unknown): Promise<void>;
  close(): void;
}
declare const window: {
  localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
  __concord?: { stats(): Promise<RecvStats | null> };
};
declare const RTCPeerConnection: new (config: { iceServers: IceServer[]; iceTransportPolicy: 'relay' }) => PagePeerConnection;

const SECRET = randomBytes(24).toString('base64url');

let coturn: Coturn;
let platform: Platform;
const people: Person[] = [];
const tokens = new Map<string, string>();
let failed = false;

beforeAll(async () => {
  coturn = await startCoturn(SECRET);
  platform = await startPlatform({ workers: 1, env: { TURN_URLS: coturn.urls.join(','), TURN_SECRET: SECRET } });
  failed = true; // until set up: a failure here prints the outputs too
  const launched = await Promise.allSettled(['alice', 'bob'].map((name) => launchPerson(name, platform.dir)));
  for (const result of launched) if (result.status === 'fulfilled') people.push(result.value);
  for (const result of launched) if (result.status === 'rejected') throw result.reason;
  await Promise.all(people.map((p) => signUp(p, platform.url)));
  for (const p of people) {
    tokens.set(p.name, await sessionToken(p));
    // The "relay only" voice preference (User settings → Voice), read when the app starts.
    await p.page.evaluate(() => window.localStorage.setItem('concord.voice', JSON.stringify({ relayOnly: true })));
  }
  failed = false;
}, 90_000);

afterAll(async () => {
  if (failed) {
    for (const p of people) {
      const file = `${os.tmpdir()}/concord-turn-${p.name}.png` as const;
      if (await p.page.screenshot({ path: file }).then(() => true, () => false)) console.log(`${p.name}'s screen: ${file}`);
    }
  }
  await closePeople(people);
  if (failed) {
    console.log(`platform output:\n${platform?.output().split('\n').slice(-150).join('\n')}`);
    console.log(`coturn output:\n${coturn?.output().split('\n').slice(-80).join('\n')}`);
    for (const p of people) if (p.errors.length) console.log(`${p.name}'s browser errors:\n${p.errors.join('\n')}`);
  }
  await platform?.stop();
  await coturn?.stop();
}, 30_000);

/** A test whose failure also prints the outputs (in afterAll). */
const step = (name: string, body: () => Promise<void>, timeoutMs = 60_000): void =>
  test(name, () => body().catch((error: unknown) => ((failed = true), Promise.reject(error))), timeoutMs);

describe('TURN', () => {
  step('a voice grant carries TURN URLs with a credential for its user that expires, and never the secret', async () => {
    const [alice] = people as [Person];
    const { voiceId } = await serverWithBob();
    const response = await api('POST', '/voice/grant', tokens.get('alice')!, { roomId: voiceId });
    expect(JSON.stringify(response)).not.toContain(SECRET);
    const { iceServers } = VoiceGrantResponse.parse(response);
    expect(iceServers).toEqual([{ urls: coturn.urls, username: expect.stringMatching(new RegExp(`^\\d+:${alice.userId}$`)), credential: expect.any(String) }]);
    const expiresAt = Number(iceServers![0]!.username!.split(':')[0]);
    // TURN_TTL's default, 12 h, from now.
    expect(Math.abs(expiresAt - (Date.now() / 1000 + 12 * 3600))).toBeLessThan(60);
  });

  step('two relay-only browsers call through coturn: each decodes the other over a relay candidate pair', async () => {
    const [alice, bob] = people as [Person, Person];
    const { serverId, voiceId } = await serverWithBob();
    const before = coturn.allocations();
    for (const p of [alice, bob]) {
      await p.page.goto(`${platform.url}/channels/${serverId}/${voiceId}`);
      await p.page.waitForSelector('[data-testid=voice-join]:not([disabled])', { timeout: 15_000 });
      await p.page.click('[data-testid=voice-join]');
      await waitUntil(`${p.name} is connected`, () => attribute(p.page, 'voice-state', 'data-state'), (v) => v === 'connected', 20_000);
    }
    await Promise.all([expectVideoPlaying(alice, [bob], 'camera', 30_000), expectVideoPlaying(bob, [alice], 'camera', 30_000)]);
    for (const p of [alice, bob]) {
      const first = await stats(p);
      const now = await waitUntil(`${p.name}'s decoded frames keep rising`, () => stats(p), (s) => s.video.framesDecoded >= first.video.framesDecoded + 30, 15_000);
      // The relay's far end is the SFU's port; its near end is coturn's relay, not the browser.
      expect({ who: p.name, pair: now.selectedCandidatePair }).toEqual({
        who: p.name,
        pair: { remoteAddress: '127.0.0.1', remotePort: platform.rtcPorts[0], protocol: 'udp', localCandidateType: 'relay' },
      });
    }
    // coturn made the relays: allocations for both users (a send and a recv transport each, at least).
    const allocated = (userId: string) => new RegExp(`user <\\d+:${userId}>: incoming packet ALLOCATE processed, success`);
    expect({ alice: allocated(alice.userId).test(coturn.output()), bob: allocated(bob.userId).test(coturn.output()) }).toEqual({ alice: true, bob: true });
    expect(coturn.allocations() - before).toBeGreaterThanOrEqual(4);
  }, 90_000);

  step('a TURN credential past its expiry is refused by coturn: 401, no relay candidate; the same user with a live one gets a relay', async () => {
    const [alice] = people as [Person];
    const past = Math.floor(Date.now() / 1000) - 60;
    const expired = turnCredential(SECRET, alice.userId, past);
    const refused = await gatherRelay(alice, { urls: [coturn.urls[0]!], ...expired });
    expect(refused).toEqual({ relayCandidates: 0, errorCodes: expect.arrayContaining([401]) });
    expect(coturn.output()).toContain(`user <${expired.username}>: incoming packet message processed, error 401`);
    // The control: the credential the API hands out now relays for the same user.
    const { voiceId } = await serverWithBob();
    const { iceServers } = VoiceGrantResponse.parse(await api('POST', '/voice/grant', tokens.get('alice')!, { roomId: voiceId }));
    const granted = await gatherRelay(alice, { ...iceServers![0]!, urls: [coturn.urls[0]!] });
    expect(granted.relayCandidates).toBeGreaterThan(0);
  });

  step('a relay-only join whose grant carries an expired TURN credential gets no media: coturn refuses the allocation', async () => {
    const [alice, bob] = people as [Person, Person];
    const { voiceId } = await serverWithBob();
    await bob.page.click('[data-testid=voice-leave]');
    await waitUntil("bob's call is gone", () => bob.page.evaluate(async () => (await window.__concord?.stats()) ?? null), (s) => s === null, 10_000);
    // A client replaying an old credential: every grant Bob's page receives carries one that expired a minute ago.
    const expired = turnCredential(SECRET, bob.userId, Math.floor(Date.now() / 1000) - 60);
    await bob.page.setRequestInterception(true);
    const replay = (request: HTTPRequest): void => {
      if (!request.url().endsWith('/api/voice/grant')) return void request.continue();
      void api('POST', '/voice/grant', tokens.get('bob')!, { roomId: voiceId }).then((grant) =>
        request.respond({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...(grant as object), iceServers: [{ urls: coturn.urls, ...expired }] }) }),
      );
    };
    bob.page.on('request', replay);
    try {
      await bob.page.click('[data-testid=voice-join]');
      await waitUntil('coturn refuses the expired credential', async () => coturn.output(), (log) => log.includes(`user <${expired.username}>: incoming packet message processed, error 401`), 15_000, () => 'no 401 yet');
      // Long enough for a relayed call to have shown frames (the call above took about 2 s).
      await sleep(6_000);
      const seen = await bob.page.evaluate(async () => (await window.__concord?.stats()) ?? null);
      expect({ decoded: seen?.video.framesDecoded ?? 0, pair: seen?.selectedCandidatePair ?? null }).toEqual({ decoded: 0, pair: null });
      expect(coturn.output()).not.toMatch(new RegExp(`user <${expired.username}>: incoming packet ALLOCATE processed, success`));
    } finally {
      bob.page.off('request', replay);
      await bob.page.setRequestInterception(false);
    }
    expect(await attribute(alice.page, 'voice-state', 'data-state')).toBe('connected');
  }, 60_000);

  step('the TURN secret appears in no log line', async () => {
    expect(platform.output()).not.toContain(SECRET);
    for (const p of people) expect(p.errors.join('\n')).not.toContain(SECRET);
  });
});

// ---------------------------------------------------------------- helpers

let created: { serverId: string; voiceId: string } | undefined;

/** Alice's server with Bob in it, and its voice channel (made once). */
async function serverWithBob(): Promise<{ serverId: string; voiceId: string }> {
  if (created) return created;
  const alice = tokens.get('alice')!;
  const server = (await api('POST', '/servers', alice, { name: 'Relayed' })) as { id: string };
  const channels = (await api('GET', `/servers/${server.id}/channels`, alice)) as { id: string; kind: string }[];
  const invite = (await api('POST', `/servers/${server.id}/invites`, alice, {})) as { code: string };
  await api('POST', `/invites/${invite.code}/accept`, tokens.get('bob')!);
  return (created = { serverId: server.id, voiceId: channels.find((channel) => channel.kind === 'voice')!.id });
}

/** ICE gathering in `p`'s page with only `server` and relay candidates allowed: the relay candidates found and the errors met. */
function gatherRelay(p: Person, server: IceServer): Promise<{ relayCandidates: number; errorCodes: number[] }> {
  return p.page.evaluate(
    (iceServer) =>
      new Promise<{ relayCandidates: number; errorCodes: number[] }>((resolve) => {
        const pc = new RTCPeerConnection({ iceServers: [iceServer], iceTransportPolicy: 'relay' });
        const found = { relayCandidates: 0, errorCodes: [] as number[] };
        const done = () => {
          pc.close();
          resolve(found);
        };
        const timer = setTimeout(done, 10_000);
        pc.onicecandidateerror = (event) => found.errorCodes.push(event.errorCode);
        pc.onicecandidate = (event) => {
          if (event.candidate?.type === 'relay') found.relayCandidates++;
          if (event.candidate === null) {
            clearTimeout(timer);
            done();
          }
        };
        pc.createDataChannel('probe');
        void pc.createOffer().then((offer) => pc.setLocalDescription(offer));
      }),
    server,
  );
}

/** The session the page signed in with (web/src/auth/session.ts keeps it in localStorage). */
async function sessionToken(p: Person): Promise<string> {
  const stored = await p.page.evaluate(() => window.localStorage.getItem('concord.session'));
  return (JSON.parse(stored ?? 'null') as { session: SessionResponse } | null)?.session.token ?? '';
}

async function api(method: string, route: string, token: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${platform.url}/api${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}
