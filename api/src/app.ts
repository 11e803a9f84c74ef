import { timingSafeEqual } from 'node:crypto';
import express, { type Request } from 'express';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import { z } from 'zod';
import { httpLogger } from '@concord/service-shell';
import { LocalSignInRequest, LocalSignUpRequest, PublicUser, SessionResponse, SignInResponse, TOKEN_ISSUER, VoiceGrantRequest, VoiceGrantResponse } from '@concord/protocol';
import type { GuildAccess, GuildData } from './access';
import type { Database } from './db';
import type { VoiceGrantIssuer } from './grants';
import { guildRoutes, type PresenceReader } from './guild';
import type { ServerCaps } from './guild/server-caps';
import { errorMiddleware, HttpError } from './http-errors';
import { RouteTable } from './http/route-table';
import { API_CONTENT_SECURITY_POLICY, securityHeaders } from './http/security-headers';
import type { AuthenticatedUser, IdentityProvider, SessionIssuer } from './identity';
import { registerMessageRoutes } from './messages';
import type { ApiMetrics } from './metrics';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords';
import type { RateLimiter } from './rate-limit';
import { clientIp, type ApiRateLimits } from './rate-limits';
import type { RealtimePublisher } from './realtime';
import { registerSessionRoutes, sessionClientOf, type SessionService } from './sessions';
import { registerTwoFactorRoutes, type TwoFactorService } from './two-factor';
import { toPublicUser, UsernameTakenError, type StoredUser, type UserStore } from './users';

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_BEARER_LENGTH = 4096;

export interface ApiDeps {
  users: UserStore;
  /** Mints sessions after local sign-up and sign-in. */
  sessions: SessionIssuer;
  /** The server-side sessions: sign-out, sign out everywhere, the session list. */
  sessionService: SessionService;
  /** Second factors: accounts that have one are answered a challenge, not a session, at sign-in. */
  twoFactor: TwoFactorService;
  /** Accepts bearer tokens. */
  identity: IdentityProvider;
  grants: VoiceGrantIssuer;
  /** The public keys that verify our tokens. */
  jwks: JSONWebKeySet;
  /** Sign-in and sign-up attempts, keyed per client IP and per user name. */
  authLimiter: RateLimiter;
  logger: Logger;
  db: Database;
  /** What a user may do where (the AccessService), over the cached guild data. */
  access: GuildAccess;
  guild: GuildData;
  realtime: RealtimePublisher;
  metrics: ApiMetrics;
  /** Per-user and per-IP limits of messages, invites, joins, reactions and server creation; sign-in throttling. */
  rateLimits: ApiRateLimits;
  /** How many servers one user may be in and own (default DEFAULT_SERVER_CAPS). */
  serverCaps?: ServerCaps;
  /** Presence for member lists, when signaling's presence store is reachable. */
  presence?: PresenceReader;
  /** METRICS_TOKEN: GET /api/metrics then needs it as a bearer token. */
  metricsToken?: string;
  /** What GET /api/config tells the web client: Firebase sign-in, when configured. */
  clientConfig?: ClientConfig;
}

/** The web client's run-time configuration (web/src/config.ts reads it). */
export const ClientConfig = z.object({
  firebase: z.object({ apiKey: z.string(), projectId: z.string(), authDomain: z.string(), emulatorUrl: z.string().optional() }).nullable(),
});
export type ClientConfig = z.infer<typeof ClientConfig>;

/** The API serves JSON only, so nothing it returns should be framed, sniffed, cached or run as a page. */
const apiSecurityHeaders = securityHeaders(API_CONTENT_SECURITY_POLICY, { 'Cache-Control': 'no-store' });

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Where a Firebase ID token becomes a session (or a second-factor challenge). */
const FIREBASE_EXCHANGE_ROUTE = '/api/auth/firebase/session';

const bearerOf = (req: Request): string | undefined => /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];

/** Every route of the API, each declared once in a RouteTable (validation, types, OpenAPI). */
export function createApiRoutes(deps: ApiDeps): RouteTable {
  const { users, sessions, grants, jwks, authLimiter } = deps;
  const table = new RouteTable();

  async function limitAuthAttempt(key: string): Promise<void> {
    const decision = await authLimiter.consume(key);
    if (!decision.allowed) {
      throw new HttpError('RATE_LIMITED', 'too many sign-in attempts, try again later', { 'Retry-After': String(decision.retryAfterSeconds) });
    }
  }
  const limitAuthByIp = (req: Request) => limitAuthAttempt(`auth:ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`);
  const limitAuthByUsername = (username: string) => limitAuthAttempt(`auth:user:${username.toLowerCase()}`);
  const invalidCredentials = () => new HttpError('INVALID_CREDENTIALS', 'wrong user name or password');
  /** The first factor is right: a session, or for a two-factor account the challenge of the second step. */
  const firstFactorPassed = async (user: StoredUser, req: Request): Promise<SignInResponse> =>
    (await deps.twoFactor.enabled(user.id)) ? deps.twoFactor.challenge(user.id) : sessions.issueSession(toPublicUser(user), sessionClientOf(req));
  const usernameTaken = () => new HttpError('CONFLICT', 'that user name is taken');

  table.add(
    { method: 'post', path: '/auth/local/signup', summary: 'Create a local account and sign in', tag: 'auth', auth: false, body: LocalSignUpRequest, response: SessionResponse, status: 201 },
    async ({ body, req }) => {
      await limitAuthByIp(req);
      await limitAuthByUsername(body.username);
      if (await users.findByUsername(body.username)) throw usernameTaken();
      const passwordHash = await hashPassword(body.password);
      const user = await users.create({ username: body.username, displayName: body.displayName ?? body.username, passwordHash }).catch((error: unknown) => {
        throw error instanceof UsernameTakenError ? usernameTaken() : error;
      });
      return sessions.issueSession(toPublicUser(user), sessionClientOf(req));
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/local/signin',
      summary: 'Sign in with a local user name and password: a session, or with two-factor sign-in a challenge for POST /api/auth/2fa/verify',
      tag: 'auth',
      auth: false,
      body: LocalSignInRequest,
      response: SignInResponse,
    },
    async ({ body, req }) => {
      await limitAuthByIp(req);
      // Wrong passwords are throttled per address and per account, never by user name alone (SignInThrottle).
      const { signIn } = deps.rateLimits;
      await signIn.admit(body.username, clientIp(req));
      const user = await users.findByUsername(body.username);
      const passwordRight = user ? await verifyPassword(body.password, user.passwordHash) : await burnPasswordCheck(body.password).then(() => false);
      if (!user || !passwordRight) {
        await signIn.failed(body.username, clientIp(req));
        throw invalidCredentials();
      }
      await signIn.succeeded(body.username, clientIp(req));
      return firstFactorPassed(user, req);
    },
  );

  table.add(
    {
      method: 'post',
      path: '/auth/firebase/session',
      summary: 'Exchange a Firebase ID token (bearer) for a Concord session, which signaling accepts (with two-factor sign-in: a challenge first)',
      tag: 'auth',
      response: SignInResponse,
    },
    async ({ user, req }) => {
      await limitAuthByIp(req);
      // Only a Firebase token is exchanged: renewing our own sessions forever is not a feature.
      if (decodeJwt(bearerOf(req) ?? '').iss === TOKEN_ISSUER) throw new HttpError('BAD_REQUEST', 'send a Firebase ID token as the bearer');
      const found = await users.findById(user.userId);
      if (!found) throw new HttpError('UNAUTHENTICATED', 'the account of this token no longer exists');
      return firstFactorPassed(found, req);
    },
  );

  registerSessionRoutes(table, { sessions: deps.sessionService, users, limitAttempt: limitAuthAttempt });
  registerTwoFactorRoutes(table, { twoFactor: deps.twoFactor, sessions, users, limitByIp: limitAuthByIp });

  table.add({ method: 'get', path: '/me', summary: 'The signed-in account', tag: 'auth', response: PublicUser }, async ({ user }) => {
    const found = await users.findById(user.userId);
    if (!found) throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
    return toPublicUser(found);
  });

  table.add(
    {
      method: 'post',
      path: '/voice/grant',
      summary: 'A voice grant for a voice channel (roomId = channel id): VIEW_CHANNEL and CONNECT, carrying SPEAK / VIDEO / STREAM',
      tag: 'voice',
      body: VoiceGrantRequest,
      response: VoiceGrantResponse,
    },
    async ({ user, body }) => {
      if (!user.sessionId) throw new HttpError('BAD_REQUEST', 'voice needs a Concord session: exchange the Firebase ID token at /api/auth/firebase/session first');
      // The name others see in the call: the profile's current one (the session's may predate a rename).
      const profile = await deps.guild.user(user.userId);
      return grants.issue({ ...user, sessionId: user.sessionId, displayName: profile?.displayName ?? user.displayName }, body.roomId);
    },
  );

  guildRoutes(table, { ...deps, data: deps.guild, ...(deps.rateLimits && { limits: deps.rateLimits }) });
  registerMessageRoutes(table, { db: deps.db, access: deps.access, realtime: deps.realtime, rateLimits: deps.rateLimits, metrics: deps.metrics, logger: deps.logger });

  table.add(
    { method: 'get', path: '/.well-known/jwks.json', summary: 'The public keys of sessions and voice grants', tag: 'auth', auth: false, response: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) },
    async ({ res }) => {
      res.set('Cache-Control', 'public, max-age=300');
      return jwks as unknown as { keys: Record<string, unknown>[] };
    },
  );

  table.add(
    { method: 'get', path: '/config', summary: 'What the web client needs to know: Firebase sign-in (null: local sign-in only)', tag: 'auth', auth: false, response: ClientConfig },
    async () => deps.clientConfig ?? { firebase: null },
  );

  table.add({ method: 'get', path: '/health', summary: 'Liveness', tag: 'ops', auth: false, response: z.object({ status: z.literal('ok') }) }, async () => ({ status: 'ok' as const }));

  table.add(
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (text exposition format); with METRICS_TOKEN set, that token is required as a bearer token',
      tag: 'ops',
      auth: false,
      response: z.string(),
    },
    async ({ req, res }) => {
      if (deps.metricsToken !== undefined && !sameSecret(bearerOf(req) ?? '', deps.metricsToken)) {
        throw new HttpError('UNAUTHENTICATED', 'the metrics token is required');
      }
      const { contentType, body } = await deps.metrics.render();
      // Text, not JSON: answered here (the route table leaves an answered response alone).
      res.status(200).type(contentType).send(body);
      return body;
    },
  );

  table.add({ method: 'get', path: '/openapi.json', summary: 'This document', tag: 'ops', auth: false, response: z.record(z.string(), z.unknown()) }, async () =>
    table.openapi({ title: 'Concord API', version: '0.1.0' }) as Record<string, unknown>,
  );

  return table;
}

export function createApiApp(deps: ApiDeps): express.Express {
  const { identity, logger } = deps;

  async function authenticatedUser(req: Request): Promise<AuthenticatedUser> {
    const token = bearerOf(req);
    if (!token) throw new HttpError('UNAUTHENTICATED', 'a bearer session token is required');
    const user = token.length <= MAX_BEARER_LENGTH ? await identity.authenticate(token) : null;
    if (!user) throw new HttpError('UNAUTHENTICATED', 'the session token is invalid or expired');
    // A Firebase ID token is the first factor only: an account with a second factor uses it solely to start signing in.
    if (!user.sessionId && req.res?.locals.route !== FIREBASE_EXCHANGE_ROUTE && (await deps.twoFactor.enabled(user.userId))) {
      throw new HttpError('TWO_FACTOR_REQUIRED', `this account has two-factor sign-in: exchange the Firebase ID token at ${FIREBASE_EXCHANGE_ROUTE} and answer its challenge`);
    }
    if (req.res) req.res.locals.userId = user.userId; // for the request's log line
    return user;
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(httpLogger({ logger, userOf: (_req, res) => (res as express.Response).locals.userId as string | undefined }));
  app.use(apiSecurityHeaders);
  app.use(deps.metrics.httpMiddleware());
  app.use(express.json({ limit: MAX_BODY_BYTES }));
  app.use('/api', createApiRoutes(deps).router(authenticatedUser));
  app.use((req, _res, next) => next(new HttpError('NOT_FOUND', `no route for ${req.method} ${req.path}`)));
  app.use(errorMiddleware(logger));
  return app;
}
