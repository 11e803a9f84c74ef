import { createHmac } from 'node:crypto';
import type { IceServer } from '@concord/protocol';

/**
 * TURN credentials by the TURN REST scheme (draft-uberti-behave-turn-rest, coturn's
 * `use-auth-secret`): the API and coturn share a secret; a credential is the HMAC of a user name
 * that holds its own expiry, so coturn checks it without asking us, and refuses it once expired.
 * The secret never leaves the API (not in grants, not in logs).
 */
export interface TurnConfig {
  /** turn:/turns: URLs the client may relay through (e.g. UDP and TCP on 3478, TLS on 443). */
  urls: string[];
  secret: string;
  /** How long a credential relays; a call that outlives it keeps its allocation (refreshes are allowed). */
  ttlSeconds: number;
}

export interface TurnCredential {
  /** `<expiry in unix seconds>:<userId>` */
  username: string;
  /** base64(HMAC-SHA1(secret, username)) */
  credential: string;
}

/** The credential for `userId` that coturn accepts until `expiresAt` (unix seconds). */
export function turnCredential(secret: string, userId: string, expiresAt: number): TurnCredential {
  const username = `${expiresAt}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The ICE servers of a voice grant: the deployment's TURN URLs with a fresh credential for the user. */
export function turnIceServers(config: TurnConfig, userId: string, now = Date.now()): IceServer[] {
  const expiresAt = Math.floor(now / 1000) + config.ttlSeconds;
  return [{ urls: config.urls, ...turnCredential(config.secret, userId, expiresAt) }];
}
