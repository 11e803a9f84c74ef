import http from 'node:http';
import { z } from 'zod';
import { ChannelView, Invite, Server, SessionResponse, VoiceGrantResponse } from '@concord/protocol';
import type { ParticipantPlan } from './client/participant';

/**
 * Users and rooms on the platform under test, through its public HTTP API only — the one place
 * that knows how a load-test participant gets in. A room is the voice channel of a server of its
 * own: its first participant creates the server (which comes with a General voice channel) and an
 * invite, the others accept it, and each asks for voice grants for that channel.
 *
 * Every user sends its HTTP requests from an address of its own in 127.0.0.0/8, as separate
 * machines would: the API limits sign-ups and invite accepts per client IP, and hundreds of users
 * from one address would be refused as abuse.
 */

/** Every load-test user has this password; the users live only in the target's data directory. */
const PASSWORD = 'load-test-password';
const REQUEST_TIMEOUT_MS = 15_000;
/** scrypt makes sign-up expensive on purpose: this many at a time keeps the API's thread pool busy, no more. */
const SIGN_UP_CONCURRENCY = 4;

export interface SignedInUser {
  userName: string;
  token: string;
  /** The loopback address its HTTP requests come from. */
  address: string;
}

/** A room as the platform knows it: a server, its voice channel, an invite to it. */
interface Room {
  serverId: string;
  channelId: string;
  inviteCode: string;
}

/** Where a browser participant signs in and goes: the web app's route to the room's voice channel. */
export interface BrowserEntry {
  userName: string;
  password: string;
  path: string;
}

export class PlatformSetup {
  readonly #baseUrl: string;
  readonly #users = new Map<string, Promise<SignedInUser>>();
  readonly #rooms = new Map<string, Promise<Room>>();
  #addresses = 0;

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl;
  }

  /** Makes the accounts and rooms of `plans`, so that joining later times only the join. */
  async prepare(plans: readonly ParticipantPlan[]): Promise<void> {
    const queue = [...plans];
    await Promise.all(
      Array.from({ length: SIGN_UP_CONCURRENCY }, async () => {
        for (let plan = queue.shift(); plan; plan = queue.shift()) await this.user(plan.userName);
      }),
    );
    const members = new Map<string, string[]>();
    for (const plan of plans) members.set(plan.roomId, [...(members.get(plan.roomId) ?? []), plan.userName]);
    for (const [room, names] of members) await this.#room(room, names);
  }

  /** A further member of a prepared room (a browser participant), signed up and joined by invite. */
  async browserEntry(userName: string, roomName: string): Promise<BrowserEntry> {
    const room = await this.#room(roomName);
    await this.#request('POST', `/invites/${room.inviteCode}/accept`, { user: await this.user(userName) });
    return { userName, password: PASSWORD, path: `/channels/${room.serverId}/${room.channelId}` };
  }

  /** Signs the user up (or in, if a previous run against the same platform made it). Memoized. */
  user(userName: string): Promise<SignedInUser> {
    return memo(this.#users, userName, async () => {
      const address = loopbackAddress(this.#addresses++);
      const credentials = { username: userName, password: PASSWORD };
      const signedUp = await this.#request('POST', '/auth/local/signup', { body: credentials, address }).catch((error: unknown) => {
        if (error instanceof ApiError && error.code === 'CONFLICT') return undefined;
        throw error;
      });
      const session = SessionResponse.parse(signedUp ?? (await this.#request('POST', '/auth/local/signin', { body: credentials, address })));
      return { userName, token: session.token, address };
    });
  }

  /** A fresh voice grant for the room's voice channel (grants are valid for a minute, so fetched at join time). */
  async grant(user: SignedInUser, roomName: string): Promise<string> {
    const { channelId } = await this.#room(roomName);
    return VoiceGrantResponse.parse(await this.#request('POST', '/voice/grant', { user, body: { roomId: channelId } })).grant;
  }

  /** Room `name`, made on first use: the first member owns its server, the others join by invite. */
  #room(name: string, memberNames: readonly string[] = []): Promise<Room> {
    return memo(this.#rooms, name, async () => {
      const [ownerName, ...others] = memberNames;
      if (!ownerName) throw new Error(`room ${name} was never prepared`);
      const owner = await this.user(ownerName);
      const server = Server.parse(await this.#request('POST', '/servers', { user: owner, body: { name } }));
      const channels = z.array(ChannelView).parse(await this.#request('GET', `/servers/${server.id}/channels`, { user: owner }));
      const voice = channels.find((channel) => channel.kind === 'voice');
      if (!voice) throw new Error(`server ${server.id} came without a voice channel`);
      const invite = Invite.parse(await this.#request('POST', `/servers/${server.id}/invites`, { user: owner, body: { maxAgeSeconds: 0, maxUses: 0 } }));
      for (const other of others) await this.#request('POST', `/invites/${invite.code}/accept`, { user: await this.user(other) });
      return { serverId: server.id, channelId: voice.id, inviteCode: invite.code };
    });
  }

  #request(method: 'GET' | 'POST', route: string, options: { user?: SignedInUser; address?: string; body?: unknown }): Promise<unknown> {
    const url = new URL(`/api${route}`, this.#baseUrl);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        url,
        {
          method,
          localAddress: options.user?.address ?? options.address,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...(options.user && { authorization: `Bearer ${options.user.token}` }),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const json = parseJson(text);
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(json);
            const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
            reject(new ApiError(error?.code ?? `HTTP_${status}`, `${method} ${route}: ${error?.message ?? `HTTP ${status}`}`));
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${route}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      request.on('error', reject);
      request.end(payload);
    });
  }
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 127.1.0.1, 127.1.0.2, …: distinct client addresses, all on the loopback interface. */
const loopbackAddress = (index: number): string => `127.${1 + Math.floor(index / 65_024)}.${Math.floor(index / 254) % 256}.${1 + (index % 254)}`;

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (!value) {
    value = make();
    cache.set(key, value);
    // A failure is not remembered: the next caller tries again.
    value.catch(() => cache.delete(key));
  }
  return value;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
