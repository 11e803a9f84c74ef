import express, { type Request, type RequestHandler } from 'express';
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import { LocalSignInRequest, LocalSignUpRequest, VoiceGrantRequest } from '@concord/protocol';
import type { VoiceGrantIssuer } from './grants';
import { errorMiddleware, HttpError, parseBody } from './http-errors';
import type { AuthenticatedUser, IdentityProvider, SessionIssuer } from './identity';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords';
import type { RateLimiter } from './rate-limit';
import { toPublicUser, UsernameTakenError, type UserStore } from './users';

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_BEARER_LENGTH = 4096;

export interface ApiDeps {
  users: UserStore;
  /** Mints sessions after local sign-up and sign-in. */
  sessions: SessionIssuer;
  /** Accepts bearer tokens. */
  identity: IdentityProvider;
  grants: VoiceGrantIssuer;
  /** The public keys that verify our tokens. */
  jwks: JSONWebKeySet;
  /** Sign-in and sign-up attempts, keyed per client IP and per user name. */
  authLimiter: RateLimiter;
  logger: Logger;
}

/** The API serves JSON only, so nothing it returns should be framed, sniffed, cached or run as a page. */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Cache-Control': 'no-store',
  });
  next();
};

export function createApiApp(deps: ApiDeps): express.Express {
  const { users, sessions, identity, grants, jwks, authLimiter, logger } = deps;

  async function limitAuthAttempt(key: string): Promise<void> {
    const decision = await authLimiter.consume(key);
    if (!decision.allowed) {
      throw new HttpError('RATE_LIMITED', 'too many sign-in attempts, try again later', { 'Retry-After': String(decision.retryAfterSeconds) });
    }
  }

  const limitAuthByIp = (req: Request) => limitAuthAttempt(`auth:ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`);
  const limitAuthByUsername = (username: string) => limitAuthAttempt(`auth:user:${username.toLowerCase()}`);

  async function authenticatedUser(req: Request): Promise<AuthenticatedUser> {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const token = match?.[1];
    if (!token) throw new HttpError('UNAUTHENTICATED', 'a bearer session token is required');
    const user = token.length <= MAX_BEARER_LENGTH ? await identity.authenticate(token) : null;
    if (!user) throw new HttpError('UNAUTHENTICATED', 'the session token is invalid or expired');
    return user;
  }

  const invalidCredentials = () => new HttpError('INVALID_CREDENTIALS', 'wrong user name or password');
  const usernameTaken = () => new HttpError('CONFLICT', 'that user name is taken');

  const api = express.Router();

  api.post('/auth/local/signup', async (req, res) => {
    await limitAuthByIp(req);
    const body = parseBody(LocalSignUpRequest, req.body);
    await limitAuthByUsername(body.username);
    if (await users.findByUsername(body.username)) throw usernameTaken();
    const passwordHash = await hashPassword(body.password);
    const user = await users
      .create({ username: body.username, displayName: body.displayName ?? body.username, passwordHash })
      .catch((error: unknown) => {
        throw error instanceof UsernameTakenError ? usernameTaken() : error;
      });
    res.status(201).json(await sessions.issueSession(toPublicUser(user)));
  });

  api.post('/auth/local/signin', async (req, res) => {
    await limitAuthByIp(req);
    const body = parseBody(LocalSignInRequest, req.body);
    await limitAuthByUsername(body.username);
    const user = await users.findByUsername(body.username);
    if (!user) {
      await burnPasswordCheck(body.password);
      throw invalidCredentials();
    }
    if (!(await verifyPassword(body.password, user.passwordHash))) throw invalidCredentials();
    res.json(await sessions.issueSession(toPublicUser(user)));
  });

  api.get('/me', async (req, res) => {
    const { userId } = await authenticatedUser(req);
    const user = await users.findById(userId);
    if (!user) throw new HttpError('UNAUTHENTICATED', 'the account of this session no longer exists');
    res.json(toPublicUser(user));
  });

  api.post('/voice/grant', async (req, res) => {
    const user = await authenticatedUser(req);
    const { roomId } = parseBody(VoiceGrantRequest, req.body);
    res.json(await grants.issue(user, roomId));
  });

  api.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(jwks);
  });

  api.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.use(express.json({ limit: MAX_BODY_BYTES }));
  app.use('/api', api);
  app.use((req, _res, next) => next(new HttpError('NOT_FOUND', `no route for ${req.method} ${req.path}`)));
  app.use(errorMiddleware(logger));
  return app;
}
