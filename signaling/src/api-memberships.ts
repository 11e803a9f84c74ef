import { Server } from '@concord/protocol';
import type { RedisServerMemberships } from '@concord/registry';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ServerMembershipSource } from './presence';

const MyServers = z.array(Server);
const MY_SERVERS_PATH = '/api/users/@me/servers';
/** A connecting socket's presence waits this long at most for the API. */
const API_TIMEOUT_MS = 5_000;

export interface ApiServerMembershipsOptions {
  /** The API's base URL (API_URL), e.g. `http://api:3001`. */
  apiUrl: string;
  /** Where the answers are remembered for announcements made without a token. */
  memory: RedisServerMemberships;
  log: Logger;
}

/**
 * A cluster's membership source: a connecting user's servers come from the API, asked as the user
 * (their session token as the bearer, exactly as the web client asks), and are remembered in Redis;
 * announcements without a token (a crashed instance's users going offline) read what was remembered.
 */
export class ApiServerMemberships implements ServerMembershipSource {
  private readonly url: string;

  constructor(private readonly options: ApiServerMembershipsOptions) {
    this.url = options.apiUrl.replace(/\/+$/, '') + MY_SERVERS_PATH;
  }

  async serversOf(userId: string, sessionToken?: string): Promise<string[]> {
    if (!sessionToken) return this.options.memory.serversOf(userId);
    const response = await fetch(this.url, {
      headers: { authorization: `Bearer ${sessionToken}` },
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`GET ${MY_SERVERS_PATH} answered ${response.status}`);
    const serverIds = MyServers.parse(await response.json()).map((server) => server.id);
    // The rooms are joined whether or not this is remembered; only a crash announcement would miss it.
    await this.options.memory.remember(userId, serverIds).catch((error: unknown) => {
      this.options.log.warn({ err: error, userId }, 'could not remember the servers of a connecting user');
    });
    return serverIds;
  }
}
