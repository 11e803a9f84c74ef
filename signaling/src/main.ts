import { createServer } from 'node:http';
import pino from 'pino';
import { RedisPresenceStore, RedisRegistry, RedisRevokedSessions } from '@concord/registry';
import { loadSignalingConfig } from './config';
import { RedisUserConnections } from './connection-cap';
import { Signaling } from './server';
import { TokenVerifier } from './token-verifier';

/** A standalone signaling process of a cluster: SFU nodes are found through the Redis registry. */
async function main(): Promise<void> {
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'signaling' } });
  const config = loadSignalingConfig();
  if (!config.redisUrl) throw new Error('REDIS_URL is required for a standalone signaling process (npm start runs the embedded platform)');
  if (!config.apiJwksUrl) throw new Error('API_JWKS_URL is required, e.g. http://api:3001/api/.well-known/jwks.json');
  const registry = new RedisRegistry(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  const presence = new RedisPresenceStore(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  // Written by the API when it revokes a session.
  const revokedSessions = new RedisRevokedSessions(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  const httpServer = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const signaling = new Signaling(httpServer, {
    config,
    registry,
    verifier: TokenVerifier.fromUrl(config.apiJwksUrl),
    revokedSessions,
    log,
    // Sockets per user are capped across every signaling process sharing this Redis.
    userConnections: new RedisUserConnections(config.redisUrl, { keyPrefix: config.redisKeyPrefix, instanceId: config.id, log }),
    // Server memberships come from the API once its routes exist (ServerMembershipSource); until then, none.
    realtime: { presence, redis: { url: config.redisUrl, keyPrefix: config.redisKeyPrefix } },
  });
  await new Promise<void>((resolve) => httpServer.listen(config.port, config.host, resolve));
  log.info({ id: config.id, port: config.port }, `signaling listening on http://${config.host}:${config.port}`);

  const shutdown = async () => {
    await signaling.close();
    httpServer.close();
    await registry.close();
    await presence.close();
    await revokedSessions.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(`signaling failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
