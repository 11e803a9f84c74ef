import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { attribute, closePeople, ensureWebBuild, launchPerson, signUp, type Person } from '@concord/testkit/src/browser';
import { expectVideoPlaying, stats } from '@concord/testkit/src/call-probes';
import { Cluster, failureReporter, type ClusterSfu } from '@concord/testkit/src/cluster';
import { waitUntil } from '@concord/testkit/src/wait';
import { webAssets } from '../standalone/src/web-assets';

/*
 * The web client's failover, in real browsers on a cluster as deployed (API, two SFU nodes, two
 * signaling processes, Redis): Alice and Bob, each through a front door of their own (the web build,
 * /api to the API, /socket.io to "their" signaling process, as a load balancer would pin them), are
 * in a call decoding each other's camera. The SFU node carrying the call is SIGKILLed; with no one
 * touching anything both pages rejoin on the survivor and decode each other's video again.
 */

declare const window: { localStorage: { getItem(key: string): string | null } };

/** Generous: the speed claim belongs to the benchmark (bench/failover.ts), on a shared machine. */
const BACK_WITHIN_MS = 20_000;

let cluster: Cluster;
const doors: http.Server[] = [];
const people: Person[] = [];
let dir = '';
const { reporting, failed } = failureReporter();

beforeAll(
  reporting(async () => {
    ensureWebBuild();
    dir = mkdtempSync(path.join(os.tmpdir(), 'concord-browser-failover-'));
    cluster = await Cluster.start({ sfuNodes: 2, signaling: 2, sfuEnv: { LOG_LEVEL: 'warn' } });
    const urls = await Promise.all(cluster.signalingUrls.map((signalingUrl) => frontDoor(cluster.apiUrl, signalingUrl)));
    people.push(...(await Promise.all(['alice', 'bob'].map((name) => launchPerson(name, dir)))));
    await Promise.all(people.map((p, i) => signUp(p, urls[i]!)));
  }),
  120_000,
);

afterAll(async () => {
  await closePeople(people);
  if (failed()) for (const p of people) if (p.errors.length) console.log(`${p.name}'s browser errors:\n${p.errors.join('\n')}`);
  await Promise.all(doors.map((door) => new Promise((resolve) => door.close(resolve))));
  await cluster?.stop(failed());
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

test(
  'SIGKILL of the node carrying a call: both pages rejoin on the survivor by themselves and decode each other again',
  reporting(async () => {
    const [alice, bob] = people as [Person, Person];
    const token = await sessionToken(alice);
    const server = (await api('POST', '/api/servers', token, { name: 'Failover' })) as { id: string };
    const invite = (await api('POST', `/api/servers/${server.id}/invites`, token, {})) as { code: string };
    await api('POST', `/api/invites/${invite.code}/accept`, await sessionToken(bob));
    const channels = (await api('GET', `/api/servers/${server.id}/channels`, token)) as { id: string; kind: string }[];
    const voiceId = channels.find((channel) => channel.kind === 'voice')!.id;
    for (const p of [alice, bob]) {
      await p.page.goto(new URL(`/channels/${server.id}/${voiceId}`, p.page.url()).href);
      await p.page.waitForSelector('[data-testid=voice-join]:not([disabled])', { timeout: 15_000 });
      await p.page.click('[data-testid=voice-join]');
      await waitUntil(`${p.name} is connected`, () => attribute(p.page, 'voice-state', 'data-state'), (state) => state === 'connected', 20_000);
    }
    await Promise.all([expectVideoPlaying(alice, [bob], 'camera'), expectVideoPlaying(bob, [alice], 'camera')]);
    const victim = await nodeOf(alice);
    expect(await nodeOf(bob)).toBe(victim);
    const survivor = cluster.sfus.find((sfu) => sfu !== victim)!;

    const killedAt = performance.now();
    victim.process.crash();
    const backMs = await Promise.all(
      [alice, bob].map(async (p) => {
        // Decoding again: frames rising on a receive transport whose media comes from the survivor.
        let last = -1;
        await waitUntil(
          `${p.name} decodes video from ${survivor.id} again`,
          () => stats(p).catch(() => null),
          (now) => {
            if (now?.selectedCandidatePair?.remotePort !== survivor.rtcPort) return false;
            const rising = last >= 0 && now.video.framesDecoded > last;
            last = now.video.framesDecoded;
            return rising;
          },
          BACK_WITHIN_MS,
        );
        return performance.now() - killedAt;
      }),
    );
    for (const p of [alice, bob]) expect(await attribute(p.page, 'voice-state', 'data-state')).toBe('connected');
    await Promise.all([expectVideoPlaying(alice, [bob], 'camera'), expectVideoPlaying(bob, [alice], 'camera')]);
    process.stdout.write(`browser failover: kill → frames decoded again ${backMs.map((ms, i) => `${people[i]!.name} ${ms.toFixed(0)} ms`).join(', ')}\n`);
  }),
  120_000,
);

/** The SFU node `p`'s media comes from: its ICE pair's remote port is that node's RTC port. */
async function nodeOf(p: Person): Promise<ClusterSfu> {
  const port = (await stats(p)).selectedCandidatePair?.remotePort;
  const node = cluster.sfus.find((sfu) => sfu.rtcPort === port);
  if (!node) throw new Error(`${p.name}'s media comes from port ${port}, no SFU node's`);
  return node;
}

/** The session the page signed in with (web/src/auth/session.ts keeps it in localStorage). */
async function sessionToken(p: Person): Promise<string> {
  const stored = await p.page.evaluate(() => window.localStorage.getItem('concord.session'));
  return (JSON.parse(stored ?? 'null') as { session: { token: string } } | null)?.session.token ?? '';
}

async function api(method: string, route: string, token: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${cluster.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

/**
 * What a load balancer in front of the cluster does for one browser: the web build, /api/ to the
 * API, /socket.io/ (HTTP and WebSocket upgrades) to one signaling process. Answers its URL.
 */
async function frontDoor(apiUrl: string, signalingUrl: string): Promise<string> {
  const upstreamOf = (url: string | undefined) => new URL(url?.startsWith('/socket.io/') ? signalingUrl : apiUrl);
  const app = express();
  app.use((req, res, next) => {
    if (!req.url.startsWith('/api/') && !req.url.startsWith('/socket.io/')) return next();
    const upstream = upstreamOf(req.url);
    const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  app.use(webAssets());
  const door = http.createServer(app);
  door.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const upstream = upstreamOf(req.url);
    const socket = net.connect(Number(upstream.port), upstream.hostname, () => {
      const headers = Object.entries(req.headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${v}\r\n`));
      socket.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('')}\r\n`);
      socket.write(head);
      client.pipe(socket).pipe(client);
    });
    for (const end of [client, socket]) end.on('error', () => (client.destroy(), socket.destroy()));
  });
  doors.push(door);
  await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(door.address() as AddressInfo).port}`;
}
