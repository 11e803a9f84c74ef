import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisPresenceStore, RedisRegistry, RedisRevokedSessions, RedisServerMemberships } from '@concord/registry';
import { ConfigError, redisReachable, runService, ServiceShell } from '@concord/service-shell';
import { ApiServerMemberships } from './api-memberships';
import { loadSignalingConfig } from './config';
import { RedisUserConnections } from './connection-cap';
import { Signaling } from './server';
import { TokenVerifier } from './token-verifier';

/** A standalone signaling process of a cluster: SFU nodes are found through the Redis registry. */
runService('signaling', async () => {
  const config = loadSignalingConfig();
  if (!config.redisUrl) throw new ConfigError('REDIS_URL is required for a standalone signaling process (npm start runs the embedded platform)');
  if (!config.apiJwksUrl || !config.apiUrl) throw new ConfigError('API_JWKS_URL is required, e.g. http://api:3001/api/.well-known/jwks.json');
  const shell = new ServiceShell({ service: 'signaling', nodeId: config.id, config: config.shell });
  const log = shell.log;
  const registry = new RedisRegistry(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  const presence = new RedisPresenceStore(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  // Kept current by the API as memberships change; read to announce for a crashed instance.
  const rememberedServers = new RedisServerMemberships(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
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
    realtime: {
      presence,
      membership: new ApiServerMemberships({ apiUrl: config.apiUrl, memory: rememberedServers, log }),
      redis: { url: config.redisUrl, keyPrefix: config.redisKeyPrefix },
    },
  });
  const redis = redisReachable(config.redisUrl);
  shell.readiness.register('redis', redis.check);
  // Closing socket.io disconnects every client, which then reconnects to another signaling process.
  shell.onStop('drain', 'sockets', () => signaling.close());
  shell.onStop('close', 'redis clients', () => Promise.all([registry.close(), presence.close(), rememberedServers.close(), revokedSessions.close(), redis.close()]));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  });
  await shell.start(signaling.metrics.registry);
  const url = `http://${config.host}:${(httpServer.address() as AddressInfo).port}`;
  log.info({ 'url.full': url }, `signaling listening on ${url}`);
});
