import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { HttpError } from './http-errors';
import { InMemoryRateLimiter, type RateLimiter } from './rate-limit';
import { RedisRateLimitStore } from './rate-limit-redis';
import { KNOWN_ADDRESS_MS, SignInThrottle } from './sign-in-throttle';

/** At most `limit` attempts per `windowMs`. */
export interface RateRule {
  limit: number;
  windowMs: number;
}

/**
 * The API's abuse limits. Each action is limited per user and per client IP (a client behind a
 * proxy is only told apart with API_TRUST_PROXY set); see README "Rate limits" for the variables.
 */
export interface RateLimitRules {
  /** Sign-in and sign-up attempts, per IP and per user name (AUTH_RATE_LIMIT, per minute). */
  auth: RateRule;
  messageUser: RateRule;
  messageIp: RateRule;
  /** Creating invites. */
  inviteUser: RateRule;
  inviteIp: RateRule;
  /** Joining servers (accepting invites). */
  joinUser: RateRule;
  joinIp: RateRule;
  /** Adding reactions. */
  reactionUser: RateRule;
  /** Creating servers. */
  serverCreateUser: RateRule;
  serverCreateIp: RateRule;
  /** Wrong passwords per (user name, IP), and per account from all addresses (see SignInThrottle). */
  signInFailurePair: RateRule;
  signInFailureAccount: RateRule;
  /** Wrong second-factor codes per account (TwoFactorService). */
  secondFactorFailure: RateRule;
  /** The same text (case and spacing aside) from the same user in the same channel. */
  duplicateMessage: RateRule;
  /** typing:started is published at most this often per user and channel; more is a quiet no-op. */
  typing: RateRule;
}

export const DEFAULT_RATE_LIMITS: RateLimitRules = {
  auth: { limit: 10, windowMs: 60_000 },
  messageUser: { limit: 10, windowMs: 10_000 },
  messageIp: { limit: 50, windowMs: 10_000 },
  inviteUser: { limit: 10, windowMs: 60_000 },
  inviteIp: { limit: 30, windowMs: 60_000 },
  joinUser: { limit: 10, windowMs: 60_000 },
  joinIp: { limit: 30, windowMs: 60_000 },
  reactionUser: { limit: 30, windowMs: 10_000 },
  serverCreateUser: { limit: 10, windowMs: 60_000 },
  serverCreateIp: { limit: 30, windowMs: 60_000 },
  signInFailurePair: { limit: 5, windowMs: 300_000 },
  signInFailureAccount: { limit: 20, windowMs: 900_000 },
  secondFactorFailure: { limit: 5, windowMs: 300_000 },
  duplicateMessage: { limit: 3, windowMs: 30_000 },
  typing: { limit: 1, windowMs: 3_000 },
};

/** Actions limited per user and per IP. */
export type LimitedAction = 'message' | 'invite' | 'join' | 'reaction' | 'create-server';

export interface Caller {
  userId: string;
  /** req.ip; see `clientIp`. */
  ip: string;
}

export const clientIp = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** Told the limiter's name each time a limit refuses an attempt (the metrics count them). */
export type RefusalListener = (rule: string) => void;
type LimiterFactory = (name: string, rule: RateRule) => RateLimiter;

/** Limiters whose "no" is normal operation rather than a refusal: typing:started published at most so often. */
const NOT_REFUSALS = new Set(['typing']);

const reporting = (make: LimiterFactory, onRefusal: RefusalListener | undefined): LimiterFactory =>
  !onRefusal
    ? make
    : (name, rule) => {
        const limiter = make(name, rule);
        if (NOT_REFUSALS.has(name)) return limiter;
        const consume = limiter.consume.bind(limiter);
        limiter.consume = async (key) => {
          const decision = await consume(key);
          if (!decision.allowed) onRefusal(name);
          return decision;
        };
        return limiter;
      };

const rateLimited = (message: string, retryAfterSeconds: number) =>
  new HttpError('RATE_LIMITED', message, { 'Retry-After': String(retryAfterSeconds) });

const ACTION_TEXT: Record<LimitedAction, string> = {
  message: 'sending messages',
  invite: 'creating invites',
  join: 'joining servers',
  reaction: 'adding reactions',
  'create-server': 'creating servers',
};

/** The text a duplicate is recognised by: case, surrounding and repeated white space do not make it new. */
const duplicateKey = (content: string): string =>
  createHash('sha256').update(content.trim().replace(/\s+/g, ' ').toLowerCase()).digest('base64url').slice(0, 22);

/**
 * Every rate limit of the API, on Redis (shared by all instances) when REDIS_URL is set, else in
 * this process. Routes call `enforce(action, caller)`, which throws 429 RATE_LIMITED with
 * Retry-After when the user or the IP is over its limit.
 */
export class ApiRateLimits {
  /** Sign-in / sign-up attempts (keys `auth:ip:…`, `auth:user:…`), as ApiDeps.authLimiter. */
  readonly auth: RateLimiter;
  /** Wrong passwords, per address and per account. */
  readonly signIn: SignInThrottle;
  /** Wrong second-factor codes, per account. */
  readonly secondFactorFailures: RateLimiter;
  private readonly perAction: Record<LimitedAction, { user: RateLimiter; ip: RateLimiter }>;
  private readonly duplicates: RateLimiter;
  private readonly typing: RateLimiter;

  constructor(
    readonly rules: RateLimitRules,
    makeLimiter: (name: string, rule: RateRule) => RateLimiter,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.auth = makeLimiter('auth', rules.auth);
    this.perAction = {
      message: { user: makeLimiter('message-user', rules.messageUser), ip: makeLimiter('message-ip', rules.messageIp) },
      invite: { user: makeLimiter('invite-user', rules.inviteUser), ip: makeLimiter('invite-ip', rules.inviteIp) },
      join: { user: makeLimiter('join-user', rules.joinUser), ip: makeLimiter('join-ip', rules.joinIp) },
      // Reactions are cheap to send from many accounts but each one is an event to the channel: per user suffices.
      reaction: { user: makeLimiter('reaction-user', rules.reactionUser), ip: makeLimiter('reaction-ip', { ...rules.reactionUser, limit: rules.reactionUser.limit * 5 }) },
      'create-server': { user: makeLimiter('server-create-user', rules.serverCreateUser), ip: makeLimiter('server-create-ip', rules.serverCreateIp) },
    };
    this.signIn = new SignInThrottle(
      {
        pair: makeLimiter('sign-in-failure-pair', rules.signInFailurePair),
        account: makeLimiter('sign-in-failure-account', rules.signInFailureAccount),
        known: makeLimiter('sign-in-known', { limit: 1, windowMs: KNOWN_ADDRESS_MS }),
      },
      { pair: rules.signInFailurePair.limit, account: rules.signInFailureAccount.limit },
    );
    this.secondFactorFailures = makeLimiter('second-factor-failure', rules.secondFactorFailure);
    this.duplicates = makeLimiter('duplicate', rules.duplicateMessage);
    this.typing = makeLimiter('typing', rules.typing);
  }

  /** In this process only: one instance, tests, the embedded default. */
  static inMemory(rules: RateLimitRules = DEFAULT_RATE_LIMITS, onRefusal?: RefusalListener): ApiRateLimits {
    return new ApiRateLimits(rules, reporting((_name, rule) => new InMemoryRateLimiter(rule.limit, rule.windowMs), onRefusal));
  }

  /** Counted in Redis, so the limits hold across every API instance sharing it (same key prefix). */
  static async redis(
    redisUrl: string,
    options: { keyPrefix?: string; rules?: RateLimitRules; logger?: Pick<Logger, 'warn'>; onRefusal?: RefusalListener } = {},
  ): Promise<ApiRateLimits> {
    const store = new RedisRateLimitStore(redisUrl, { keyPrefix: options.keyPrefix, logger: options.logger });
    if (!(await store.ready())) options.logger?.warn('rate-limit Redis not reachable at start: counting in this process until it is');
    const makeLimiter = reporting((name, rule) => store.limiter(name, rule.limit, rule.windowMs), options.onRefusal);
    return new ApiRateLimits(options.rules ?? DEFAULT_RATE_LIMITS, makeLimiter, () => store.close());
  }

  /** Counts one attempt of `action` for the user and for the IP; 429 if either is over its limit. */
  async enforce(action: LimitedAction, caller: Caller): Promise<void> {
    const limiters = this.perAction[action];
    const [user, ip] = await Promise.all([limiters.user.consume(caller.userId), limiters.ip.consume(caller.ip)]);
    const retryAfter = Math.max(user.allowed ? 0 : user.retryAfterSeconds, ip.allowed ? 0 : ip.retryAfterSeconds);
    if (retryAfter > 0) throw rateLimited(`too many requests ${ACTION_TEXT[action]}, try again in ${retryAfter} s`, retryAfter);
  }

  /** Counts one message with this text; 429 once the same text is repeated too often (flooding). */
  async enforceNotDuplicate(channelId: string, userId: string, content: string): Promise<void> {
    const decision = await this.duplicates.consume(`${channelId}:${userId}:${duplicateKey(content)}`);
    if (!decision.allowed) {
      const { limit, windowMs } = this.rules.duplicateMessage;
      throw rateLimited(
        `duplicate message: the same text at most ${limit} times in ${Math.round(windowMs / 1000)} s in a channel; wait ${decision.retryAfterSeconds} s or change it`,
        decision.retryAfterSeconds,
      );
    }
  }

  /** Whether a typing:started of this user in this channel is due (not published within the window). */
  async typingDue(userId: string, channelId: string): Promise<boolean> {
    return (await this.typing.consume(`${channelId}:${userId}`)).allowed;
  }

  /** Closes the Redis connection, if any. Idempotent. */
  close(): Promise<void> {
    return this.onClose();
  }
}
