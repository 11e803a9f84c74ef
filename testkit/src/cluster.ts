import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SessionResponse, VoiceGrantResponse, type TransportOptions } from '@concord/protocol';
import { RedisRegistry } from '@concord/registry';
import { freePortBase } from './ports';
import { createTestDatabase, type TestDatabase } from './postgres';
import { ServiceProcess } from './processes';
import { deleteKeys } from './redis';
import { opusRtpParameters } from './sfu';
import { eventually } from './wait';
import { VoiceClient, type User } from './voice-client';

/*
 * A cluster as deployed, for failover tests and benchmarks: one API (PostgreSQL), SFU nodes and
 * signaling processes, each a real process started through tsx, sharing one Redis under a key
 * prefix of their own. SFU nodes can be killed, stopped and started again on the same ports.
 */

export interface ClusterOptions {
  sfuNodes: number;
  signaling: number;
  /** Extra environment of every SFU node (heartbeat, drain settings…). */
  sfuEnv?: Record<string, string>;
  signalingEnv?: Record<string, string>;
  redisUrl?: string;
}

export interface ClusterSfu {
  readonly id: string;
  readonly controlPort: number;
  readonly rtcPort: number;
  process: ServiceProcess;
  /** The node's ops listener (/readyz, /drain), once it has logged it. */
  opsUrl(): Promise<string>;
}

const SECRET = 'cluster-secret-0123456789abcdef';
const READY_TIMEOUT_MS = 40_000;
/** A sign-up hashes a password (scrypt): several at once on a busy 2-core machine take seconds. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Each service's ops listener on a free loopback port, so that processes of one kind do not collide. */
const OPS_LISTENER = { OPS_PORT: '0', OPS_HOST: '127.0.0.1' };

/** One person in a ClusterCall: their voice socket, whether they speak, and where their media goes. */
export interface CallMember {
  user: User;
  client: VoiceClient;
  speaks: boolean;
  producerId?: string;
  node?: string;
}

/** A call on the cluster: a room and its members; `connect` (re)joins everyone, as their clients would. */
export class ClusterCall {
  constructor(
    private readonly cluster: Cluster,
    readonly roomId: string,
    readonly members: CallMember[],
  ) {}

  /** The node carrying every member's media; throws when they are not on one node. */
  get node(): string {
    const nodes = new Set(this.members.map((member) => member.node));
    if (nodes.size !== 1) throw new Error(`call ${this.roomId} is on nodes ${[...nodes].join(', ')}`);
    return [...nodes][0]!;
  }

  /** How many `voice:roomClosed` (with `reason`, if given) each member has received for this room. */
  closedCount(reason?: string): number[] {
    return this.members.map((m) => m.client.received('voice:roomClosed').filter((e) => e.roomId === this.roomId && (!reason || e.reason === reason)).length);
  }

  /** Everyone (re)joins with a fresh grant and receives; the speaker sends a mic; resolves once every listener has its consumer. */
  async connect(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.members.map((member) => this.join(member)));
    const speaker = this.members.find((member) => member.speaks)!;
    await Promise.all(
      this.members.filter((m) => !m.speaks).map((m) => m.client.waitFor('voice:newConsumer', (c) => c.producerId === speaker.producerId, timeoutMs)),
    );
  }

  /** One member's join: recv transport and capabilities, and the mic if they speak. */
  async join(member: CallMember): Promise<void> {
    const joined = await member.client.request('voice:join', { grant: await this.cluster.grant(member.user, this.roomId) });
    const recv = await member.client.request('voice:createTransport', { direction: 'recv' });
    member.node = this.cluster.nodeOf(recv);
    await member.client.request('voice:setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
    if (!member.speaks) return;
    const send = await member.client.request('voice:createTransport', { direction: 'send' });
    const produced = await member.client.request('voice:produce', {
      transportId: send.transportId,
      kind: 'audio',
      source: 'mic',
      rtpParameters: opusRtpParameters(++ssrc),
    });
    member.producerId = produced.producerId;
  }

  close(): void {
    for (const member of this.members) member.client.close();
  }
}

let ssrc = 5000;

export class Cluster {
  readonly secret = SECRET;
  readonly registry: RedisRegistry;
  readonly sfus: ClusterSfu[] = [];
  readonly signalingUrls: string[] = [];
  private readonly processes: ServiceProcess[] = [];
  private users = 0;

  private constructor(
    private readonly options: ClusterOptions & { redisUrl: string },
    readonly prefix: string,
    readonly apiUrl: string,
    private readonly dataDir: string,
    private readonly database: TestDatabase,
  ) {
    this.registry = new RedisRegistry(options.redisUrl, { keyPrefix: prefix });
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const base = await freePortBase(1 + options.signaling + 2 * options.sfuNodes);
    const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-cluster-'));
    const database = await createTestDatabase();
    const prefix = `concord-cluster:${process.pid}:${Date.now()}:`;
    const cluster = new Cluster({ ...options, redisUrl }, prefix, `http://127.0.0.1:${base}`, dataDir, database);
    try {
      await cluster.launch(base);
    } catch (error) {
      await cluster.stop(true);
      throw error;
    }
    return cluster;
  }

  private async launch(base: number): Promise<void> {
    const { redisUrl } = this.options;
    const api = this.spawn('api', 'api/src/main.ts', {
      API_HOST: '127.0.0.1',
      API_PORT: String(base),
      CONCORD_DATA_DIR: this.dataDir,
      DATABASE_URL: this.database.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: this.prefix,
      GRANT_TTL: '10m',
      // Every test user comes from 127.0.0.1: per-IP limits would throttle a benchmark's rounds.
      ...Object.fromEntries(['JOIN', 'INVITE', 'SERVER_CREATE'].flatMap((limit) => [`${limit}_RATE_LIMIT`, `${limit}_IP_RATE_LIMIT`]).map((name) => [name, '100000/1m'])),
      AUTH_RATE_LIMIT: '100000',
    });
    const signaling = Array.from({ length: this.options.signaling }, (_, i) => {
      const port = base + 1 + i;
      this.signalingUrls.push(`http://127.0.0.1:${port}`);
      return this.spawn(`signaling-${i + 1}`, 'signaling/src/main.ts', {
        SIGNALING_ID: `signaling-${i + 1}`,
        SIGNALING_HOST: '127.0.0.1',
        SIGNALING_PORT: String(port),
        API_JWKS_URL: `${this.apiUrl}/api/.well-known/jwks.json`,
        SFU_SECRET: SECRET,
        SIGNALING_MAX_SOCKETS_PER_USER: '0',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: this.prefix,
        ...this.options.signalingEnv,
      });
    });
    const sfuBase = base + 1 + this.options.signaling;
    for (let i = 0; i < this.options.sfuNodes; i++) this.sfus.push(this.sfuProcess(`sfu-${String.fromCharCode(97 + i)}`, sfuBase + 2 * i, sfuBase + 2 * i + 1));
    await Promise.all([
      this.until('the API is ready', async () => (await fetch(`${this.apiUrl}/api/health`).catch(() => undefined))?.ok === true, [api]),
      ...this.sfus.map((sfu) => this.registered(sfu)),
      ...signaling.map((proc, i) => this.until(`${proc.name} listens`, () => fetch(this.signalingUrls[i]!).then(() => true, () => false), [proc])),
    ]);
  }

  private sfuProcess(id: string, controlPort: number, rtcPort: number): ClusterSfu {
    const env = { ...sfuNodeEnv({ id, controlPort, rtcPort, secret: SECRET, redisUrl: this.options.redisUrl, keyPrefix: this.prefix }), ...this.options.sfuEnv };
    const sfu: ClusterSfu = {
      id,
      controlPort,
      rtcPort,
      process: this.spawn(id, 'sfu/src/main.ts', env),
      opsUrl: () => sfu.process.loggedUrl('ops endpoints on'),
    };
    return sfu;
  }

  /** Starts a node that exited again, under the same id and ports, and waits for it to register. */
  async restart(sfu: ClusterSfu): Promise<void> {
    await sfu.process.waitForExit(10_000);
    const fresh = this.sfuProcess(sfu.id, sfu.controlPort, sfu.rtcPort);
    sfu.process = fresh.process;
    await this.registered(sfu);
  }

  /** The node whose RTC port a transport's ICE candidates name: where the client's media goes. */
  nodeOf(transport: TransportOptions): string {
    const ports = new Set(transport.iceCandidates.map((candidate) => candidate.port));
    const nodes = this.sfus.filter((sfu) => ports.has(sfu.rtcPort));
    if (nodes.length !== 1) throw new Error(`ICE candidates name ports ${[...ports].join(', ')}, not one SFU node`);
    return nodes[0]!.id;
  }

  async liveNodeIds(): Promise<string[]> {
    return (await this.registry.liveNodes()).map((node) => node.id).sort();
  }

  async signUp(name = `user-${++this.users}`): Promise<User> {
    const session = SessionResponse.parse(await this.post('/api/auth/local/signup', { username: name, password: 'correct horse battery' }));
    return { id: session.user.id, name, token: session.token };
  }

  /** A server of `owner` that `guests` joined by invite; its voice channel is the room. */
  async voiceRoom(owner: User, guests: User[]): Promise<string> {
    const server = (await this.post('/api/servers', { name: `${owner.name}'s server` }, owner.token)) as { id: string };
    const invite = (await this.post(`/api/servers/${server.id}/invites`, {}, owner.token)) as { code: string };
    for (const guest of guests) await this.post(`/api/invites/${invite.code}/accept`, {}, guest.token);
    const response = await fetch(`${this.apiUrl}/api/servers/${server.id}/channels`, { headers: { authorization: `Bearer ${owner.token}` } });
    const channels = (await response.json()) as { id: string; kind: string }[];
    return channels.find((channel) => channel.kind === 'voice')!.id;
  }

  /** A connected call of `size` new users (the first speaks), member i on signaling process `signalingOf(i)`. */
  async call(size: number, signalingOf = (i: number) => i % this.signalingUrls.length): Promise<ClusterCall> {
    const users = await Promise.all(Array.from({ length: size }, () => this.signUp()));
    const roomId = await this.voiceRoom(users[0]!, users.slice(1));
    const members = await Promise.all(
      users.map(async (user, i) => {
        const client = new VoiceClient(user, this.signalingUrls[signalingOf(i)]!);
        await client.connected();
        return { user, client, speaks: i === 0 };
      }),
    );
    const started = new ClusterCall(this, roomId, members);
    await started.connect();
    return started;
  }

  /** A fresh voice grant from the API, as the web client gets one per join. */
  async grant(user: User, roomId: string): Promise<string> {
    return VoiceGrantResponse.parse(await this.post('/api/voice/grant', { roomId }, user.token)).grant;
  }

  /** Every process's output, for a failure report. */
  report(): string {
    return this.processes.map((proc) => proc.report()).join('');
  }

  async stop(printOutput = false): Promise<void> {
    for (const proc of this.processes) proc.crash();
    await Promise.all(this.processes.map((proc) => proc.waitForExit(5_000).catch(() => undefined)));
    if (printOutput) process.stderr.write(`Output of the cluster's processes:\n${this.report()}\n`);
    await this.registry.close();
    await deleteKeys(this.prefix, this.options.redisUrl);
    await rm(this.dataDir, { recursive: true, force: true });
    await this.database.drop();
  }

  private spawn(name: string, script: string, env: Record<string, string>): ServiceProcess {
    const proc = new ServiceProcess(script, { LOG_LEVEL: 'info', ...OPS_LISTENER, ...env }, name);
    this.processes.push(proc);
    return proc;
  }

  private registered(sfu: ClusterSfu): Promise<void> {
    return this.until(`${sfu.id} is registered`, async () => (await this.liveNodeIds()).includes(sfu.id), [sfu.process]);
  }

  private async until(what: string, check: () => Promise<boolean>, watched: ServiceProcess[]): Promise<void> {
    await eventually(async () => {
      for (const proc of watched) if (!proc.running) throw new Error(`${proc.name} exited before: ${what}`);
      return check();
    }, READY_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`${what}: ${error.message}`);
    });
  }

  private post(route: string, body: unknown, token?: string): Promise<unknown> {
    return postJson(this.apiUrl, route, body, token);
  }
}

/** The environment of a one-worker SFU node on loopback with its own control and RTC ports. */
export function sfuNodeEnv(node: { id: string; controlPort: number; rtcPort: number; secret: string; redisUrl: string; keyPrefix: string }): Record<string, string> {
  return {
    SFU_NODE_ID: node.id,
    SFU_WORKERS: '1',
    SFU_RTC_PORT_BASE: String(node.rtcPort),
    SFU_LISTEN_IP: '127.0.0.1',
    SFU_CONTROL_PORT: String(node.controlPort),
    SFU_CONTROL_HOST: '127.0.0.1',
    SFU_SECRET: node.secret,
    REDIS_URL: node.redisUrl,
    REDIS_KEY_PREFIX: node.keyPrefix,
  };
}

/** A POST of JSON to the API; answers the JSON body, throws naming the route unless 2xx. */
export async function postJson(apiUrl: string, route: string, body: unknown, token?: string): Promise<unknown> {
  const response = await fetch(`${apiUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw new Error(`POST ${route} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Wraps hooks and tests so that any failure is remembered: afterAll then prints the cluster's output. */
export function failureReporter(): { reporting: (body: () => Promise<void>) => () => Promise<void>; failed: () => boolean } {
  let failed = false;
  return {
    reporting: (body) => async () => {
      try {
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    failed: () => failed,
  };
}
