import { HttpError } from './http-errors';
import type { RateCount, RateLimiter } from './rate-limit';

/** How long an address an account signed in from stays "known" to it. */
export const KNOWN_ADDRESS_MS = 30 * 86_400_000;

export interface SignInLimiters {
  /** Wrong passwords per (user name, client IP). */
  pair: RateLimiter;
  /** Wrong passwords per user name, from every address together. */
  account: RateLimiter;
  /** Successful sign-ins per (user name, IP), limit 1 over KNOWN_ADDRESS_MS: a count > 0 means known. */
  known: RateLimiter;
}

/**
 * Throttles password guessing without letting a stranger lock the owner out. A limit keyed by the
 * user name alone (what there was) let anyone lock any account for a minute with ten wrong
 * guesses. Instead (besides the per-IP limit on every attempt, AUTH_RATE_LIMIT):
 *
 * - wrong passwords per (user name, IP): one address soon stops guessing one account, and only
 *   that address is stopped; the owner signing in from anywhere else is not;
 * - wrong passwords per account from all addresses together: many addresses (a botnet) cannot
 *   keep guessing one account either. Once that is reached only an address the account has
 *   signed in from before (in the last 30 days) may still try: the owner at their usual place gets
 *   in, the attacker's fresh addresses do not. The price is that the owner on a new network waits
 *   while an attack from many addresses is going on.
 *
 * Only wrong passwords count towards these two, so signing in normally never uses them up.
 */
export class SignInThrottle {
  constructor(
    private readonly limiters: SignInLimiters,
    private readonly limits: { pair: number; account: number },
  ) {}

  /** Before checking a password: 429 RATE_LIMITED if this address or the account is over its limit. */
  async admit(username: string, ip: string): Promise<void> {
    const account = accountKey(username);
    const pair = pairKey(username, ip);
    const [pairCount, accountCount] = await Promise.all([this.limiters.pair.peek(pair), this.limiters.account.peek(account)]);
    if (pairCount.count >= this.limits.pair) throw tooMany('too many wrong passwords for this account from your address: ', pairCount);
    if (accountCount.count >= this.limits.account && (await this.limiters.known.peek(pair)).count === 0) {
      throw tooMany('too many wrong passwords for this account: sign in from a device that has signed in before, or ', accountCount);
    }
  }

  async failed(username: string, ip: string): Promise<void> {
    await Promise.all([this.limiters.pair.consume(pairKey(username, ip)), this.limiters.account.consume(accountKey(username))]);
  }

  async succeeded(username: string, ip: string): Promise<void> {
    await this.limiters.known.consume(pairKey(username, ip));
  }
}

const accountKey = (username: string): string => username.toLowerCase();
const pairKey = (username: string, ip: string): string => `${username.toLowerCase()}|${ip}`;

const tooMany = (reason: string, count: RateCount): HttpError =>
  new HttpError('RATE_LIMITED', `${reason} try again in ${count.retryAfterSeconds} s`, { 'Retry-After': String(count.retryAfterSeconds) });
