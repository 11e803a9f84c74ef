import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import {
  InProcessRealtimePublisher,
  loadSigningKeys,
  RedisRealtimePublisher,
  signToken,
  VoiceGrantIssuer,
  type RealtimePublisher,
  type SigningKeys,
} from '@concord/api';
import {
  REALTIME_NAMESPACE,
  realtimeRedisKey,
  SESSION_AUDIENCE,
  serverRoom,
  type Message,
  type RealtimeEvent,
  type RealtimeEventName,
  type Result,
  type VoicePermissions,
} from '@concord/protocol';
import { InProcessPresenceStore, InProcessRegistry, RedisPresenceStore, type PresenceStore, type RoomRegistry } from '@concord/registry';
import type { SfuNode } from '@concord/sfu';
import { loadSignalingConfig, Signaling, TokenVerifier, type ServerMembershipSource } from '@concord/signaling';
import { REDIS_URL, deleteKeys } from './redis';
import { startTestNode, TEST_SECRET } from './sfu';
import { NOTHING_REVOKED, sessionOf } from './signaling';
import { eventually } from './wait';

/*
 * For real-time tests: signaling instances on free ports (through Redis like a cluster, or one in
 * process like the embedded default), the API's publisher for them, real session tokens and
 * socket.io clients that record every event they receive.
 */

/** How long a test waits to be sure that something did not arrive. */
export const QUIET_MS = 300;

export interface RealtimeSetupOptions {
  /** `redis`: the cluster path (adapter, emitter, Redis presence). `in-process`: the embedded default. */
  mode: 'redis' | 'in-process';
  /** Signaling instances (in-process mode: one). Default 2 with Redis. */
  instances?: number;
  /** A real SFU node behind every instance, for voice. */
  sfu?: boolean;
  /** The SFU's SFU_PEER_GRACE_MS. Default 500. */
  peerGraceMs?: number;
}

export interface RealtimeSetup {
  readonly publisher: RealtimePublisher;
  readonly signalings: Signaling[];
  /** Each instance's presence store (one shared store in process). */
  readonly stores: PresenceStore[];
  /** The servers each user belongs to, as the ServerMembershipSource answers; tests edit it. */
  readonly memberships: Map<string, string[]>;
  readonly keyPrefix: string;
  /** The API signing key the instances verify sessions with, for an API under test to share. */
  readonly keys: SigningKeys;
  readonly node: SfuNode | undefined;
  /** A connected client of `userId` on signaling instance `instance`, in the namespace (default `/`, VOICE_NAMESPACE for calls). */
  connect(instance: number, userId: string, namespace?: string): Promise<RealtimeClient>;
  /** A voice grant as the API issues it. */
  grantFor(userId: string, roomId: string, permissions: VoicePermissions): Promise<string>;
  /** Resolves once the client's socket (on instance `instance`) is in the server's room, or with `expected` false, out of it. */
  inServerRoom(instance: number, serverId: string, client: RealtimeClient, expected?: boolean): Promise<void>;
  close(): Promise<void>;
}

let setups = 0;

export async function startRealtime(options: RealtimeSetupOptions): Promise<RealtimeSetup> {
  const redisMode = options.mode === 'redis';
  const count = redisMode ? (options.instances ?? 2) : 1;
  const keyPrefix = `concord-test:realtime:${process.pid}:${Date.now()}:${++setups}:`;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-realtime-test-'));
  const keys = await loadSigningKeys({ dataDir });
  const sfu = options.sfu ? await startTestNode({ peerGraceMs: options.peerGraceMs ?? 500 }) : undefined;
  const registry: RoomRegistry = sfu?.registry ?? new InProcessRegistry();
  const memberships = new Map<string, string[]>();
  const membership: ServerMembershipSource = { serversOf: async (userId) => memberships.get(userId) ?? [] };
  const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

  const stores: PresenceStore[] = redisMode
    ? Array.from({ length: count }, () => new RedisPresenceStore(REDIS_URL, { keyPrefix }))
    : [new InProcessPresenceStore()];
  const servers: HttpServer[] = [];
  const signalings: Signaling[] = [];
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const httpServer = createServer();
    const signaling = new Signaling(httpServer, {
      config: loadSignalingConfig({}, { id: `${keyPrefix}signaling-${i}`, sfuSecret: TEST_SECRET, sfuRequestTimeoutMs: 2_000 }),
      registry,
      verifier: TokenVerifier.fromJwks(keys.jwks),
      revokedSessions: NOTHING_REVOKED,
      log,
      realtime: {
        presence: stores[i],
        membership,
        redis: redisMode ? { url: REDIS_URL, keyPrefix } : undefined,
        presenceHeartbeatMs: 100,
        presenceTtlMs: 1_000,
      },
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    servers.push(httpServer);
    signalings.push(signaling);
    urls.push(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
  }

  let publisher: RealtimePublisher;
  if (redisMode) {
    publisher = new RedisRealtimePublisher(REDIS_URL, { keyPrefix });
    await adaptersSubscribed(keyPrefix, count);
  } else {
    const inProcess = new InProcessRealtimePublisher();
    inProcess.attach(signalings[0]!.realtime);
    publisher = inProcess;
  }

  const clients = new Set<RealtimeClient>();
  return {
    publisher,
    signalings,
    stores,
    memberships,
    keyPrefix,
    keys,
    node: sfu?.node,
    connect: async (instance, userId, namespace = REALTIME_NAMESPACE) => {
      const token = await sessionToken(keys, userId);
      const socket = io(new URL(namespace, urls[instance]!).href, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      const client = new RealtimeClient(socket);
      clients.add(client);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return client;
    },
    grantFor: async (userId, roomId, permissions) => {
      const issuer = new VoiceGrantIssuer(keys, 60, async () => permissions);
      return (await issuer.issue({ userId, displayName: userId, sessionId: sessionOf(userId) }, roomId)).grant;
    },
    inServerRoom: (instance, serverId, client, expected = true) =>
      eventually(() => (signalings[instance]!.io.sockets.adapter.rooms.get(serverRoom(serverId))?.has(client.socket.id ?? '') ?? false) === expected, 3_000),
    close: async () => {
      for (const client of clients) client.socket.close();
      for (const signaling of signalings) await signaling.close();
      for (const server of servers) if (server.listening) await new Promise((resolve) => server.close(resolve));
      await publisher.close();
      for (const store of stores) await store.close();
      await sfu?.node.close();
      await registry.close();
      await rm(dataDir, { recursive: true, force: true });
      if (redisMode) await deleteKeys(keyPrefix);
    },
  };
}

async function sessionToken(keys: SigningKeys, userId: string): Promise<string> {
  return (await signToken(keys, SESSION_AUDIENCE, { sub: userId, name: userId, sid: sessionOf(userId) }, 3_600)).token;
}

/** Waits until every instance's Redis adapter listens: before that, a publish reaches no one. */
async function adaptersSubscribed(keyPrefix: string, instances: number): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const requestChannel = `${realtimeRedisKey(keyPrefix)}-request#/#`;
    await eventually(async () => {
      const reply = (await redis.pubsub('NUMSUB', requestChannel)) as [string, number];
      return Number(reply[1]) === instances;
    }, 3_000);
  } finally {
    await redis.quit();
  }
}

interface Received {
  event: string;
  data: unknown;
}

/** A client that records every event from its first moment, so tests can ask about the past as well as wait. */
export class RealtimeClient {
  readonly received: Received[] = [];

  /** Untyped: tests send what the protocol forbids, in either namespace. */
  constructor(readonly socket: Socket) {
    socket.onAny((event: string, data: unknown) => this.received.push({ event, data }));
  }

  eventsOf<E extends RealtimeEventName>(event: E): RealtimeEvent<E>[] {
    return this.received.filter((r) => r.event === event).map((r) => r.data as RealtimeEvent<E>);
  }

  /** The first received event of a kind, past or future, that matches. */
  async next<E extends RealtimeEventName>(event: E, matches: (data: RealtimeEvent<E>) => boolean = () => true, timeoutMs = 3_000): Promise<RealtimeEvent<E>> {
    return (await this.nextOf(event, (data) => matches(data as RealtimeEvent<E>), timeoutMs)) as RealtimeEvent<E>;
  }

  /** The same for any event name (voice events, protocol errors). */
  async nextOf(event: string, matches: (data: unknown) => boolean = () => true, timeoutMs = 3_000): Promise<unknown> {
    let found: Received | undefined;
    await eventually(() => {
      found = this.received.find((r) => r.event === event && matches(r.data));
      return found !== undefined;
    }, timeoutMs).catch(() => {
      throw new Error(`no matching ${event} within ${timeoutMs} ms; received ${JSON.stringify(this.received)}`);
    });
    return found?.data;
  }

  /** Any request with an ack, as a client could send it. */
  async send(name: string, ...args: unknown[]): Promise<Result<unknown>> {
    const timed = this.socket.timeout(5_000) as unknown as { emitWithAck(name: string, ...args: unknown[]): Promise<Result<unknown>> };
    return timed.emitWithAck(name, ...args);
  }

  /** The data of a request expected to succeed. */
  async ok<T = unknown>(name: string, payload: unknown): Promise<T> {
    const result = await this.send(name, payload);
    if (!result.ok) throw new Error(`${name} failed: ${result.error.code} ${result.error.message}`);
    return result.data as T;
  }

  /** Closes the connection and resolves once the client has seen it go. */
  async disconnect(): Promise<void> {
    if (this.socket.disconnected) return;
    const gone = new Promise<void>((resolve) => this.socket.once('disconnect', () => resolve()));
    this.socket.disconnect();
    await gone;
  }
}

/** A chat message as the API publishes it (`message:created`), in channel chan-1 of server srv-1. */
export function chatMessage(id: string, authorId: string): Message {
  const at = new Date().toISOString();
  return { id, channelId: 'chan-1', serverId: 'srv-1', authorId, content: `message ${id}`, createdAt: at, editedAt: null, replyToId: null, mentions: [], mentionEveryone: false, nonce: null, reactions: [] };
}

/** Presence statuses a client saw for `userId`, in order. */
export const presenceOf = (client: RealtimeClient, userId: string): string[] =>
  client.eventsOf('presence:updated').filter((e) => e.userId === userId).map((e) => e.status);
