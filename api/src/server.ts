import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { createApiApp, type ApiDeps } from './app';
import type { ApiConfig } from './config';
import { VoiceGrantIssuer } from './grants';
import { buildIdentity } from './identity';
import { loadSigningKeys, type SigningKeys } from './keys';
import { InMemoryRateLimiter } from './rate-limit';
import { FileUserStore } from './users';

/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000;

/** The embedded defaults: file-backed users, in-process rate limits, our own sessions. */
export async function buildApiDeps(config: ApiConfig, logger: Logger): Promise<ApiDeps & { keys: SigningKeys }> {
  const keys = await loadSigningKeys(config);
  const users = await FileUserStore.open(config.dataDir);
  const { sessions, identity } = buildIdentity(config, keys, users, logger);
  return {
    keys,
    users,
    sessions,
    identity,
    grants: new VoiceGrantIssuer(keys, config.grantTtlSeconds),
    jwks: keys.jwks,
    authLimiter: new InMemoryRateLimiter(config.authAttemptsPerMinute, 60_000),
    logger,
  };
}

export interface RunningApi {
  /** e.g. http://127.0.0.1:3001 */
  url: string;
  keys: SigningKeys;
  /** Stops accepting connections and resolves once open ones are done. Idempotent. */
  close(): Promise<void>;
}

export async function startApi(config: ApiConfig, logger: Logger = pino({ level: config.logLevel })): Promise<RunningApi> {
  const deps = await buildApiDeps(config, logger);
  const app = createApiApp(deps);
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve, reject) => {
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      server.close((error) => {
        clearTimeout(force);
        if (error) reject(error);
        else resolve();
      });
      server.closeIdleConnections();
    }));
  return { url, keys: deps.keys, close };
}
