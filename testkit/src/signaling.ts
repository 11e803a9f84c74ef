import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { io } from 'socket.io-client';
import { loadSigningKeys, signToken, VoiceGrantIssuer, type SigningKeys } from '@concord/api';
import { SESSION_AUDIENCE, VOICE_NAMESPACE, type RevokedSessions, type RoomId, type VoicePermissions, type VoiceResponse } from '@concord/protocol';
import type { RoomRegistry } from '@concord/registry';
import type { SfuConfigOverrides, SfuNode } from '@concord/sfu';
import { loadSignalingConfig, Signaling, TokenVerifier, type SignalingConfig } from '@concord/signaling';
import type { UserConnections } from '@concord/signaling/src/connection-cap';
import { startTestNode, TEST_SECRET } from './sfu';
import { ok, recordEvents, type ClientSocket } from './voice-client';

/*
 * Signaling under test: a real SFU node (mediasoup) with an in-process registry, real Signaling
 * processes on HTTP servers on free ports, real ES256 tokens from the API's own key code, and
 * socket.io clients of theirs (./voice-client) speaking the typed voice protocol.
 */

export const ALL_PERMISSIONS: VoicePermissions = { speak: true, video: true, screen: true };
export const SPEAKER: VoicePermissions = { speak: true, video: false, screen: false };

/** How one signaling process of the harness is set up. */
export interface SignalingOptions {
  signaling?: Partial<SignalingConfig>;
  /**
   * Route signaling's control connection through a TCP proxy the test can cut, as a crashed SFU
   * host, a crashed signaling host or a network partition would: nothing is said, the connection
   * just goes.
   */
  proxyControl?: boolean;
  /** Where sockets per user are counted (Redis for a cluster); this process by default. */
  userConnections?: UserConnections;
}

export interface HarnessOptions extends SignalingOptions {
  sfu?: SfuConfigOverrides;
  /** The room registry of the node and of signaling; a fresh in-process one by default. */
  registry?: RoomRegistry;
}

/** One signaling process of the harness, on its SFU node and registry, with clients of its own. */
export interface SignalingProcess {
  readonly signaling: Signaling;
  readonly url: string;
  /** Present with `proxyControl`. */
  readonly proxy: TcpProxy | undefined;
  /** A connected, authenticated client of `userId` in the voice namespace. */
  connectClient(userId: string): Promise<ClientSocket>;
  /**
   * The connect_error message of a handshake with this `auth` in the namespace (default the voice
   * namespace); fails if the connection is accepted.
   */
  connectRefusal(auth: Record<string, unknown>, namespace?: string): Promise<string>;
  /** Connects and joins `room` with a fresh grant; answers the join response. */
  joinedClient(userId: string, room: RoomId, perms?: VoicePermissions): Promise<{ socket: ClientSocket; joined: VoiceResponse<'voice:join'> }>;
}

/** A real SFU node and registry with one signaling process (the harness's own members) and any added. */
export interface Harness extends SignalingProcess {
  readonly node: SfuNode;
  readonly registry: RoomRegistry;
  readonly keys: SigningKeys;
  /** A session token as the API mints it at sign-in; a negative ttl gives an expired one. */
  sessionToken(userId: string, ttlSeconds?: number): Promise<string>;
  /** A voice grant as the API issues it, with the given permissions. */
  grantFor(userId: string, room: RoomId, perms?: VoicePermissions, options?: { ttlSeconds?: number; keys?: SigningKeys }): Promise<string>;
  /** Another signaling process on the same node and registry, as in a cluster; closed with the harness. */
  addSignaling(options?: SignalingOptions): Promise<SignalingProcess>;
  close(): Promise<void>;
}

type Tokens = Pick<Harness, 'sessionToken' | 'grantFor'>;
type StartedProcess = SignalingProcess & { close(): Promise<void> };

/** The session of a user's test tokens: one per user, never revoked (the session tests use the real API). */
export const sessionOf = (userId: string): string => `${userId}-session`;
export const NOTHING_REVOKED: RevokedSessions = { isRevoked: async () => false };

export const displayNameOf = (userId: string): string => `${userId[0]?.toUpperCase() ?? ''}${userId.slice(1)}`;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-signaling-test-'));
  const keys = await loadSigningKeys({ dataDir });
  const { node, registry } = await startTestNode({ peerGraceMs: 500, ...options.sfu }, options.registry);
  const tokens: Tokens = {
    sessionToken: async (userId, ttlSeconds = 3_600) =>
      (await signToken(keys, SESSION_AUDIENCE, { sub: userId, name: displayNameOf(userId), sid: sessionOf(userId) }, ttlSeconds)).token,
    grantFor: async (userId, room, perms = ALL_PERMISSIONS, { ttlSeconds = 60, keys: signingKeys = keys } = {}) => {
      const issuer = new VoiceGrantIssuer(signingKeys, ttlSeconds, async () => perms);
      return (await issuer.issue({ userId, displayName: displayNameOf(userId), sessionId: sessionOf(userId) }, room)).grant;
    },
  };
  const processes: StartedProcess[] = [];
  const launch = async (signalingOptions: SignalingOptions): Promise<StartedProcess> => {
    const id = `signaling-test-${processes.length + 1}`;
    const started = await startSignaling(id, { node, registry, keys, tokens }, signalingOptions);
    processes.push(started);
    return started;
  };
  const first = await launch(options);

  return {
    ...first,
    ...tokens,
    node,
    registry,
    keys,
    addSignaling: (signalingOptions = {}) => launch(signalingOptions),
    close: async () => {
      for (const started of processes) await started.close();
      await node.close();
      await registry.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A Signaling on its own HTTP server on a free port, connecting to the node (through a proxy if asked). */
async function startSignaling(
  id: string,
  { node, registry, keys, tokens }: { node: SfuNode; registry: RoomRegistry; keys: SigningKeys; tokens: Tokens },
  options: SignalingOptions,
): Promise<StartedProcess> {
  const proxy = options.proxyControl ? await TcpProxy.start(Number(new URL(node.controlUrl).port)) : undefined;
  const httpServer = createServer();
  const signaling = new Signaling(httpServer, {
    config: loadSignalingConfig({}, { id, sfuSecret: TEST_SECRET, sfuRequestTimeoutMs: 1_000, ...options.signaling }),
    registry: proxy ? viaProxy(registry, proxy) : registry,
    verifier: TokenVerifier.fromJwks(keys.jwks),
    revokedSessions: NOTHING_REVOKED,
    log: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    ...(options.userConnections && { userConnections: options.userConnections }),
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const sockets = new Set<ClientSocket>();

  const open = (auth: Record<string, unknown>, namespace = VOICE_NAMESPACE): ClientSocket => {
    // forceNew: one client is one connection; socket.io would otherwise multiplex them on one.
    const socket: ClientSocket = io(new URL(namespace, url).href, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
    recordEvents(socket);
    sockets.add(socket);
    return socket;
  };

  const started: StartedProcess = {
    signaling,
    url,
    proxy,
    connectClient: async (userId) => {
      const socket = open({ token: await tokens.sessionToken(userId) });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return socket;
    },
    connectRefusal: (auth, namespace) => {
      const socket = open(auth, namespace);
      return new Promise<string>((resolve, reject) => {
        socket.once('connect', () => reject(new Error('the connection was accepted')));
        socket.once('connect_error', (error) => resolve(error.message));
      });
    },
    joinedClient: async (userId, room, perms = ALL_PERMISSIONS) => {
      const socket = await started.connectClient(userId);
      const joined = await ok(socket, 'voice:join', { grant: await tokens.grantFor(userId, room, perms) });
      return { socket, joined };
    },
    close: async () => {
      for (const socket of sockets) socket.close();
      await signaling.close();
      if (httpServer.listening) await new Promise((resolve) => httpServer.close(resolve));
      await proxy?.close();
    },
  };
  return started;
}

/** Signaling's view of the registry with every node's control URL pointing at the proxy. */
function viaProxy(registry: RoomRegistry, proxy: TcpProxy): RoomRegistry {
  const rewrite = <T extends { controlUrl: string } | null>(info: T): T => (info ? { ...info, controlUrl: proxy.url } : info);
  return {
    heartbeat: (node, ttlMs, hostedRooms) => registry.heartbeat(node, ttlMs, hostedRooms),
    deregister: (nodeId) => registry.deregister(nodeId),
    liveNodes: async () => (await registry.liveNodes()).map(rewrite),
    placePeer: async (roomId, exclude) => rewrite(await registry.placePeer(roomId, exclude)),
    roomNodes: async (roomId) => (await registry.roomNodes(roomId)).map(rewrite),
    roomNode: async (roomId) => rewrite(await registry.roomNode(roomId)),
    releaseRoom: (roomId, nodeId) => registry.releaseRoom(roomId, nodeId),
    close: () => registry.close(),
  };
}

/** A TCP forwarder on loopback that can drop every connection at once and refuse new ones. */
export class TcpProxy {
  readonly #target: number;
  readonly #connections = new Set<net.Socket>();
  #server: net.Server;
  #port = 0;

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.#listen(0);
    return proxy;
  }

  private constructor(targetPort: number) {
    this.#target = targetPort;
    this.#server = this.#createServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Drops every connection without a word and stops accepting: the node is gone from the network. */
  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve));
    for (const socket of this.#connections) socket.resetAndDestroy();
    this.#connections.clear();
    await closed;
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    this.#server = this.#createServer();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.cut();
  }

  #createServer(): net.Server {
    return net.createServer((client) => {
      const upstream = net.connect(this.#target, '127.0.0.1');
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#connections.add(from);
        from.pipe(to);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          this.#connections.delete(from);
          to.destroy();
        });
      }
    });
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }
}
