import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  loadScore,
  SessionResponse,
  VoiceGrantResponse,
  type JoinResponse,
  type TransportOptions,
} from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import { failureReporter, postJson as postClusterJson, sfuNodeEnv } from '@concord/testkit/src/cluster';
import { freePortBase } from '@concord/testkit/src/ports';
import { createTestDatabase, type TestDatabase } from '@concord/testkit/src/postgres';
import { ServiceProcess } from '@concord/testkit/src/processes';
import { deleteKeys } from '@concord/testkit/src/redis';
import { opusRtpParameters } from '@concord/testkit/src/sfu';
import { VoiceClient, type User } from '@concord/testkit/src/voice-client';
import { eventually, sleep } from '@concord/testkit/src/wait';

/*
 * The cluster as deployed: one API, two SFU nodes and two signaling processes, each a real process
 * started through tsx, sharing one Redis under a key prefix of this run's own. Users sign up over
 * HTTP and speak the voice protocol over socket.io, as the web client does; which SFU node carries
 * a room is read from the ICE candidates a client is handed (each node has its own RTC port) and
 * checked against the registry.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `concord-cluster-test:${process.pid}:${Date.now()}:`;
const SECRET = 'cluster-test-secret-0123456789';
const HEARTBEAT_INTERVAL_MS = 300;
/** The node killed in (d) lapses quickly… */
const SHORT_TTL_MS = 1_500;
/** …the node stopped in (e) would linger this long, so only its deregistration can explain it going at once. */
const LONG_TTL_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** Rooms joined concurrently in (c); even, so equal placement is exactly half on each node. */
const ROOM_COUNT = 8;
interface SfuNodeUnderTest {
  id: string;
  process: ServiceProcess;
  controlPort: number;
  rtcPort: number;
}

/** Each service's ops listener (/healthz, /metrics) on a free loopback port, so that processes of one kind do not collide. */
const OPS_LISTENER = { OPS_PORT: '0', OPS_HOST: '127.0.0.1' };

let apiUrl = '';
let signalingUrls: [string, string] = ['', ''];
let sfuA: SfuNodeUnderTest;
let sfuB: SfuNodeUnderTest;
let dataDir: string | undefined;
let database: TestDatabase | undefined;
let registry: RedisRegistry | undefined;
const processes: ServiceProcess[] = [];
const clients: VoiceClient[] = [];
let ssrcs = 1000;

/** Hooks and tests that mark the run failed, so afterAll prints every server's output. */
const { reporting, failed } = failureReporter();

const liveNodeIds = async (): Promise<string[]> => (await registry!.liveNodes()).map((node) => node.id).sort();

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, watched: ServiceProcess[] = []): Promise<void> {
  await eventually(async () => {
    for (const proc of watched) if (!proc.running) throw new Error(`${proc.name} exited before ${what}`);
    return check();
  }, timeoutMs).catch((error: Error) => {
    throw new Error(`${what}: ${error.message}`);
  });
}

/** True once anything answers HTTP at the URL. */
const answers = (url: string, okOnly = false): Promise<boolean> =>
  fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
    (response) => !okOnly || response.ok,
    () => false,
  );

const postJson = (route: string, body: unknown, token?: string): Promise<unknown> => postClusterJson(apiUrl, route, body, token);

async function signUp(username: string): Promise<User> {
  const session = SessionResponse.parse(await postJson('/api/auth/local/signup', { username, password: 'correct horse battery' }));
  return { id: session.user.id, name: username, token: session.token };
}

async function getJson(route: string, token: string): Promise<unknown> {
  const response = await fetch(`${apiUrl}${route}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const json: unknown = await response.json();
  if (!response.ok) throw new Error(`GET ${route} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Voice rooms are voice channels: `owner` creates a server, `guests` join it by invite, and its voice channel is the room. */
async function voiceServer(owner: User, guests: User[]): Promise<{ serverId: string; roomId: string }> {
  const server = (await postJson('/api/servers', { name: `${owner.name}'s server` }, owner.token)) as { id: string };
  const invite = (await postJson(`/api/servers/${server.id}/invites`, {}, owner.token)) as { code: string };
  for (const guest of guests) await postJson(`/api/invites/${invite.code}/accept`, {}, guest.token);
  const channels = (await getJson(`/api/servers/${server.id}/channels`, owner.token)) as { id: string; kind: string }[];
  return { serverId: server.id, roomId: channels.find((channel) => channel.kind === 'voice')!.id };
}

const voiceRoom = async (owner: User, guests: User[]): Promise<string> => (await voiceServer(owner, guests)).roomId;

/** A fresh grant from the API each time, as the web client gets one per join. */
async function join(client: VoiceClient, roomId: string): Promise<JoinResponse> {
  const { grant } = VoiceGrantResponse.parse(await postJson('/api/voice/grant', { roomId }, client.user.token));
  return client.request('voice:join', { grant });
}

async function connect(user: User, signaling: 0 | 1): Promise<VoiceClient> {
  const client = new VoiceClient(user, signalingUrls[signaling]);
  clients.push(client);
  await client.connected();
  return client;
}

/** The node whose RTC port the transport's ICE candidates name: where the client's media would go. */
function nodeOfTransport(transport: TransportOptions): string {
  const ports = new Set(transport.iceCandidates.map((candidate) => candidate.port));
  const nodes = [sfuA, sfuB].filter((node) => ports.has(node.rtcPort));
  if (nodes.length !== 1 || ports.size !== 1) throw new Error(`ICE candidates name ports ${[...ports].join(', ')}, not one SFU node`);
  return nodes[0]!.id;
}

async function openTransport(client: VoiceClient, direction: 'send' | 'recv'): Promise<{ transport: TransportOptions; nodeId: string }> {
  const transport = await client.request('voice:createTransport', { direction });
  return { transport, nodeId: nodeOfTransport(transport) };
}

/** A mic producer as a browser would declare it; returns its id and the node carrying it. */
async function sendAudio(client: VoiceClient): Promise<{ producerId: string; nodeId: string }> {
  const { transport, nodeId } = await openTransport(client, 'send');
  const { producerId } = await client.request('voice:produce', {
    transportId: transport.transportId,
    kind: 'audio',
    source: 'mic',
    rtpParameters: opusRtpParameters(++ssrcs),
  });
  return { producerId, nodeId };
}

/** A recv transport plus the router's capabilities: from then on the client consumes everything in the room. */
async function receive(client: VoiceClient, joined: JoinResponse): Promise<string> {
  const { nodeId } = await openTransport(client, 'recv');
  await client.request('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
  return nodeId;
}

/** True once `client` knows `other` is in its room: listed at join, or announced since. */
const knowsPeer = (client: VoiceClient, joined: JoinResponse, other: User): boolean =>
  joined.peers.some((peer) => peer.peerId === other.id) || client.received('voice:peerJoined').some(({ peer }) => peer.peerId === other.id);

beforeAll(
  reporting(async () => {
    // Seven consecutive ports, each free for TCP and UDP.
    const base = await freePortBase(7);
    const ports = { api: base, control: [base + 1, base + 2], signaling: [base + 3, base + 4], rtc: [base + 5, base + 6] } as const;
    dataDir = await mkdtemp(path.join(tmpdir(), 'concord-cluster-'));
    database = await createTestDatabase();
    registry = new RedisRegistry(REDIS_URL, { keyPrefix: PREFIX });
    apiUrl = `http://127.0.0.1:${ports.api}`;
    signalingUrls = [`http://127.0.0.1:${ports.signaling[0]}`, `http://127.0.0.1:${ports.signaling[1]}`];

    const api = new ServiceProcess('api/src/main.ts', {
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      CONCORD_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      AUTH_RATE_LIMIT: '1000',
      LOG_LEVEL: 'info',
      ...OPS_LISTENER,
    }, 'api');
    const startSfu = (id: string, controlPort: number, rtcPort: number, ttlMs: number): SfuNodeUnderTest => ({
      id,
      controlPort,
      rtcPort,
      process: new ServiceProcess('sfu/src/main.ts', {
        ...sfuNodeEnv({ id, controlPort, rtcPort, secret: SECRET, redisUrl: REDIS_URL, keyPrefix: PREFIX }),
        SFU_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
        SFU_HEARTBEAT_TTL_MS: String(ttlMs),
        // (e) stops the last node: with nowhere to move its calls, its drain waits out this deadline.
        SFU_DRAIN_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'info',
        ...OPS_LISTENER,
      }, id),
    });
    sfuA = startSfu('sfu-a', ports.control[0], ports.rtc[0], SHORT_TTL_MS);
    sfuB = startSfu('sfu-b', ports.control[1], ports.rtc[1], LONG_TTL_MS);
    const signaling = ports.signaling.map(
      (port, i) =>
        new ServiceProcess('signaling/src/main.ts', {
          SIGNALING_ID: `signaling-${i + 1}`,
          SIGNALING_HOST: '127.0.0.1',
          SIGNALING_PORT: String(port),
          API_JWKS_URL: `${apiUrl}/api/.well-known/jwks.json`,
          SFU_SECRET: SECRET,
          SFU_REQUEST_TIMEOUT_MS: '3000',
          REDIS_URL,
          REDIS_KEY_PREFIX: PREFIX,
          LOG_LEVEL: 'info',
          ...OPS_LISTENER,
        }, `signaling-${i + 1}`),
    );
    processes.push(api, sfuA.process, sfuB.process, ...signaling);

    await Promise.all([
      waitUntil('the API is ready', () => answers(`${apiUrl}/api/health`, true), READY_TIMEOUT_MS, [api]),
      // A node heartbeats only once its workers and control server are up.
      ...[sfuA, sfuB].map((node) =>
        waitUntil(`${node.id} is registered`, async () => (await liveNodeIds()).includes(node.id), READY_TIMEOUT_MS, [node.process]),
      ),
      ...signaling.map((proc, i) => waitUntil(`${proc.name} is listening`, () => answers(signalingUrls[i]!), READY_TIMEOUT_MS, [proc])),
    ]);
  }),
  READY_TIMEOUT_MS + 5_000,
);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const proc of processes) proc.crash();
  await Promise.all(processes.map((proc) => proc.waitForExit(5_000).catch(() => undefined)));
  if (failed()) process.stderr.write(`Output of the cluster's processes:\n${processes.map((proc) => proc.report()).join('')}\n`);
  await registry?.close();
  await deleteKeys(PREFIX, REDIS_URL);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await database?.drop();
}, 20_000);

test(
  '(a) both SFU nodes register in Redis under the configured key prefix',
  reporting(async () => {
    const live = await registry!.liveNodes();
    expect(live.map((node) => node.id).sort()).toEqual([sfuA.id, sfuB.id]);
    for (const node of [sfuA, sfuB]) {
      expect(live.find((info) => info.id === node.id)).toMatchObject({
        controlUrl: `http://127.0.0.1:${node.controlPort}`,
        draining: false,
        load: { workers: 1 },
      });
    }
    // Nothing went under the default prefix: the processes read REDIS_KEY_PREFIX.
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.exists(`concord:node:${sfuA.id}`, `concord:node:${sfuB.id}`)).toBe(0);
    } finally {
      await redis.quit();
    }
  }),
);

test(
  '(b) users on different signaling processes meet in one room on one node, and its events cross processes',
  reporting(async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    const roomId = await voiceRoom(alice, [bob]);
    const aliceClient = await connect(alice, 0);
    const bobClient = await connect(bob, 1);

    const bobJoined = await join(bobClient, roomId);
    const bobNode = await receive(bobClient, bobJoined);
    const aliceJoined = await join(aliceClient, roomId);
    expect(aliceJoined.peers.map((peer) => peer.peerId)).toEqual([bob.id]);

    const peerJoined = await bobClient.waitFor('voice:peerJoined', ({ peer }) => peer.peerId === alice.id);
    expect(peerJoined.peer).toMatchObject({ displayName: 'alice', producers: [] });

    const { producerId, nodeId: aliceNode } = await sendAudio(aliceClient);
    const consumer = await bobClient.waitFor('voice:newConsumer', (data) => data.producerId === producerId);
    expect(consumer).toMatchObject({ peerId: alice.id, kind: 'audio', source: 'mic' });
    // The consumer is bob's to use through his own signaling process.
    await bobClient.request('voice:resumeConsumer', { consumerId: consumer.consumerId });

    expect(aliceNode).toBe(bobNode);
    expect((await registry!.roomNode(roomId))?.id).toBe(bobNode);

    // Both leave, so the room closes and its claim is released before the next test places rooms.
    await aliceClient.request('voice:leave', {});
    await bobClient.request('voice:leave', {});
    await waitUntil('the emptied room is released', async () => (await registry!.roomNode(roomId)) === null, 5_000);
  }),
);

test(
  '(b) the same user joining through the other signaling process takes the peer over; the first tab going away leaves it be',
  reporting(async () => {
    const [carol, dave] = await Promise.all([signUp('carol'), signUp('dave')]);
    const roomId = await voiceRoom(dave, [carol]);
    const daveClient = await connect(dave, 1);
    await receive(daveClient, await join(daveClient, roomId));
    const firstTab = await connect(carol, 0);
    await join(firstTab, roomId);
    const firstMic = (await sendAudio(firstTab)).producerId;
    await daveClient.waitFor('voice:newConsumer', (data) => data.producerId === firstMic);

    const secondTab = await connect(carol, 1);
    await join(secondTab, roomId);
    // The SFU node tells the first tab, through the first process, and drops its media at once.
    expect(await firstTab.waitFor('voice:roomClosed', () => true)).toEqual({ roomId, reason: 'joined from another session' });
    await daveClient.waitFor('voice:consumerClosed', (data) => data.producerId === firstMic);
    expect(await firstTab.attempt('voice:createTransport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });

    const secondMic = (await sendAudio(secondTab)).producerId;
    await daveClient.waitFor('voice:newConsumer', (data) => data.producerId === secondMic);
    firstTab.close();
    // Time for a disconnect of the first tab to reach the node, had its process sent one for the peer.
    await sleep(500);
    await secondTab.request('voice:pauseProducer', { producerId: secondMic });
    await daveClient.waitFor('voice:consumerPaused', (data) => data.producerId === secondMic);
    expect(daveClient.received('voice:consumerClosed').map((data) => data.producerId)).toEqual([firstMic]);
    expect(secondTab.received('voice:roomClosed')).toEqual([]);

    await secondTab.request('voice:leave', {});
    await daveClient.request('voice:leave', {});
    await waitUntil('the emptied room is released', async () => (await registry!.roomNode(roomId)) === null, 5_000);
  }),
);

interface RoomMembers {
  roomId: string;
  members: { client: VoiceClient; joined?: JoinResponse; nodeId?: string }[];
}
let rooms: RoomMembers[] = [];

test(
  '(c) rooms joined concurrently through both signaling processes spread over both nodes, each placed once',
  reporting(async () => {
    // Placement compares streams, then rooms held: start from an idle cluster, as (b) leaves it.
    await waitUntil(
      'both nodes report no streams',
      async () => {
        const live = await registry!.liveNodes();
        return live.length === 2 && live.every((node) => loadScore(node.load) === 0);
      },
      5_000,
    );

    const users = await Promise.all(Array.from({ length: ROOM_COUNT * 2 }, (_, i) => signUp(`member-${i}`)));
    rooms = await Promise.all(
      Array.from({ length: ROOM_COUNT }, async (_, r) => ({
        roomId: await voiceRoom(users[2 * r]!, [users[2 * r + 1]!]),
        // One member through each signaling process.
        members: [{ client: await connect(users[2 * r]!, 0) }, { client: await connect(users[2 * r + 1]!, 1) }],
      })),
    );

    const everyone = rooms.flatMap((room) => room.members.map((member) => ({ room, member })));
    await Promise.all(
      everyone.map(async ({ room, member }) => {
        member.joined = await join(member.client, room.roomId);
      }),
    );
    await Promise.all(
      everyone.map(async ({ member }) => {
        member.nodeId = (await openTransport(member.client, 'recv')).nodeId;
      }),
    );

    const perNode = new Map<string, number>();
    for (const { roomId, members } of rooms) {
      const [first, second] = members as [RoomMembers['members'][number], RoomMembers['members'][number]];
      // Both members' media goes to the node the registry holds the room on…
      const registered = (await registry!.roomNode(roomId))?.id;
      expect({ roomId, nodes: [first.nodeId, second.nodeId] }).toEqual({ roomId, nodes: [registered, registered] });
      // …and they are in one room there, not in two of the same name: the later joiner finds the earlier.
      await waitUntil(
        `a member of ${roomId} sees the other`,
        async () => knowsPeer(first.client, first.joined!, second.client.user) || knowsPeer(second.client, second.joined!, first.client.user),
        5_000,
      );
      perNode.set(registered!, (perNode.get(registered!) ?? 0) + 1);
    }
    // Equal load, so each placement goes to the node holding fewer rooms: an even split.
    expect(Object.fromEntries(perNode)).toEqual({ [sfuA.id]: ROOM_COUNT / 2, [sfuB.id]: ROOM_COUNT / 2 });
  }),
);

/*
 * When two peers join a fresh room at once, the SFU broadcasts "peerJoined" for the second before
 * it answers the first's join; signaling holds that event until the first has its answer.
 */
test('(c) both of two concurrent joiners learn of each other', async () => {
  expect(rooms.length).toBe(ROOM_COUNT);
  await eventually(
    () =>
      rooms.every(({ members: [first, second] }) =>
        knowsPeer(first!.client, first!.joined!, second!.client.user) && knowsPeer(second!.client, second!.joined!, first!.client.user),
      ),
    1_000,
  );
});

test(
  '(c) a kicked member is out of the call at once, across signaling processes: the others see them leave, they are told why, and an older grant no longer admits',
  reporting(async () => {
    const [owner, guest] = await Promise.all([signUp('kicker'), signUp('kicked')]);
    const { serverId, roomId } = await voiceServer(owner, [guest]);
    // Through different signaling processes: the API's removal goes through Redis to the one holding the guest.
    const [ownerClient, guestClient] = await Promise.all([connect(owner, 1), connect(guest, 0)]);
    await join(ownerClient, roomId);
    await receive(guestClient, await join(guestClient, roomId));
    const { producerId } = await sendAudio(ownerClient);
    await guestClient.waitFor('voice:newConsumer', (data) => data.producerId === producerId);
    // A grant fetched just before the kick, still well within its lifetime.
    const { grant: oldGrant } = VoiceGrantResponse.parse(await postJson('/api/voice/grant', { roomId }, guest.token));

    const kick = await fetch(`${apiUrl}/api/servers/${serverId}/members/${guest.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${owner.token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    expect(kick.status).toBe(204);

    expect(await guestClient.waitFor('voice:removed', (data) => data.roomId === roomId)).toEqual({ roomId, reason: 'kicked' });
    await ownerClient.waitFor('voice:peerLeft', (data) => data.peerId === guest.id);
    expect(await guestClient.attempt('voice:resumeConsumer', { consumerId: guestClient.received('voice:newConsumer')[0]!.consumerId })).toMatchObject({
      ok: false,
      error: { code: 'NOT_IN_ROOM' },
    });
    // The older grant is refused at join, through either signaling process, and the API gives no new one.
    const elsewhere = await connect(guest, 1);
    for (const client of [guestClient, elsewhere]) expect(await client.attempt('voice:join', { grant: oldGrant })).toMatchObject({ ok: false, error: { code: 'GRANT_INVALID' } });
    await expect(postJson('/api/voice/grant', { roomId }, guest.token)).rejects.toThrow(/answered 404/);
  }),
);

test(
  '(c) signing out everywhere closes the other sessions’ sockets on any signaling process: told why, out of the call at once, refused afterwards',
  reporting(async () => {
    const [owner, guest] = await Promise.all([signUp('everywhere'), signUp('stays')]);
    const roomId = await voiceRoom(owner, [guest]);
    const laptop = SessionResponse.parse(await postJson('/api/auth/local/signin', { username: owner.name, password: 'correct horse battery' }));
    // The session signed out is on one signaling process, the one signing out on the other.
    const [phone, guestClient] = await Promise.all([connect(owner, 0), connect(guest, 1)]);
    const laptopClient = await connect({ ...owner, token: laptop.token }, 1);
    await join(guestClient, roomId);
    await join(phone, roomId);
    const revoked = new Promise((resolve) => phone.socket.once('session:revoked', resolve));
    const disconnected = new Promise((resolve) => phone.socket.once('disconnect', resolve));

    expect(await postJson('/api/auth/sign-out-everywhere', {}, laptop.token)).toEqual({ revoked: 1 });
    expect(await revoked).toEqual({ reason: 'signed-out-everywhere' });
    expect(await disconnected).toBe('io server disconnect');
    // Well within the SFU's 15 s reconnect grace: the peer was taken out, not dropped.
    await guestClient.waitFor('voice:peerLeft', (data) => data.peerId === owner.id, 5_000);
    await expect(connect(owner, 1)).rejects.toThrow(/could not connect/);
    expect(laptopClient.socket.connected).toBe(true);
    expect(guestClient.socket.connected).toBe(true);
  }),
);

const roomsOn = (nodeId: string) => rooms.filter((room) => room.members[0]?.nodeId === nodeId);

test(
  '(d) a killed node: its rooms close for their clients, the registry drops it when its heartbeat lapses, and rejoined rooms move to the survivor',
  reporting(async () => {
    const lost = roomsOn(sfuA.id);
    const kept = roomsOn(sfuB.id);
    expect(lost.length).toBeGreaterThan(0);

    sfuA.process.crash();
    await sfuA.process.waitForExit(5_000);
    expect(sfuA.process.exit?.signal).toBe('SIGKILL');

    // Signaling sees the control connection drop and tells every client of the node's rooms.
    await Promise.all(
      lost.flatMap(({ roomId, members }) => members.map(({ client }) => client.waitFor('voice:roomClosed', (data) => data.roomId === roomId))),
    );
    await waitUntil('the registry drops the killed node', async () => (await liveNodeIds()).join() === sfuB.id, SHORT_TTL_MS + 3_000);
    for (const { members } of kept) for (const { client } of members) expect(client.received('voice:roomClosed')).toEqual([]);

    // Each client rejoins with a fresh grant; the room is placed anew, on the survivor, and carries media.
    await Promise.all(
      lost.map(async (room) => {
        const [speaker, listener] = room.members as [RoomMembers['members'][number], RoomMembers['members'][number]];
        const [speakerJoined, listenerJoined] = await Promise.all([join(speaker.client, room.roomId), join(listener.client, room.roomId)]);
        speaker.joined = speakerJoined;
        listener.joined = listenerJoined;
        listener.nodeId = await receive(listener.client, listenerJoined);
        const sent = await sendAudio(speaker.client);
        speaker.nodeId = sent.nodeId;
        await listener.client.waitFor('voice:newConsumer', (data) => data.producerId === sent.producerId && data.peerId === speaker.client.user.id);
        expect({ roomId: room.roomId, nodes: [speaker.nodeId, listener.nodeId] }).toEqual({ roomId: room.roomId, nodes: [sfuB.id, sfuB.id] });
        expect((await registry!.roomNode(room.roomId))?.id).toBe(sfuB.id);
      }),
    );
  }),
);

test(
  '(e) a stopped node deregisters at once, without waiting for its heartbeat TTL',
  reporting(async () => {
    expect(await liveNodeIds()).toEqual([sfuB.id]);
    const everyone = rooms.flatMap(({ roomId, members }) => members.map(({ client }) => ({ roomId, client })));
    // Rooms moved over in (d) already saw one roomClosed under the same id.
    const closedSoFar = everyone.map(({ roomId, client }) => client.received('voice:roomClosed').filter((data) => data.roomId === roomId).length);
    const stoppedAt = Date.now();
    sfuB.process.signal('SIGTERM');
    // Its TTL is 30 s: gone within a few seconds means it deregistered.
    await waitUntil('the stopped node leaves the registry', async () => (await liveNodeIds()).length === 0, 5_000);
    expect(Date.now() - stoppedAt).toBeLessThan(LONG_TTL_MS / 4);
    await sfuB.process.waitForExit(10_000);
    expect(sfuB.process.exit).toEqual({ code: 0, signal: null });

    // Its clients were told, and with no node left a join is refused, not hung.
    await waitUntil(
      'every client hears its room closed',
      async () => everyone.every(({ roomId, client }, i) => client.received('voice:roomClosed').filter((data) => data.roomId === roomId).length > closedSoFar[i]!),
      5_000,
    );
    const { roomId, client } = everyone[0]!;
    const { grant } = VoiceGrantResponse.parse(await postJson('/api/voice/grant', { roomId }, client.user.token));
    const refused = await client.attempt('voice:join', { grant });
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  }),
);
