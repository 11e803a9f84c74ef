import { RedisRegistry } from '@concord/registry';
import { bearerToken, ConfigError, redisReachable, runService, sameSecret, ServiceShell } from '@concord/service-shell';
import { loadSfuConfig } from './config';
import { SfuNode } from './sfu-node';

/*
 * The standalone SFU process. The room registry must be shared with signaling and the other
 * nodes, so it is Redis here; the in-process registry only serves the embedded single process.
 * The node itself logs the startup line (id, control URL, workers, ports).
 */
runService('sfu', async () => {
  const config = loadSfuConfig(process.env);
  if (!config.redisUrl) throw new ConfigError('REDIS_URL is required: a standalone SFU node shares its room registry through Redis');
  const shell = new ServiceShell({ service: 'sfu', nodeId: config.nodeId, config: config.shell });
  const registry = new RedisRegistry(config.redisUrl, { keyPrefix: config.redisKeyPrefix });
  const node = new SfuNode(config, registry, { logger: shell.log });
  await node.start();
  const redis = redisReachable(config.redisUrl);
  shell.readiness.register('redis', redis.check);
  shell.readiness.register('workers', async () => node.workers().every((worker) => worker.pid !== undefined));
  // An operator's (or Kubernetes preStop's) drain: the same stop as SIGTERM, authenticated with the cluster's secret.
  shell.addOpsAction({
    path: '/drain',
    run: async (req) => {
      if (!sameSecret(bearerToken(req), config.secret)) return { status: 401, body: { error: { code: 'UNAUTHENTICATED', message: 'Authorization: Bearer <SFU_SECRET> is required' } } };
      shell.exitAfterStop('POST /drain');
      return { status: 202, body: { status: 'draining', deadlineMs: config.drainTimeoutMs } };
    },
  });
  // Draining: placement skips the node from now on; its calls move to other nodes in batches, then
  // what is left closes and the node leaves the registry.
  shell.onStop('stop-accepting', 'take no new rooms', () => node.drain());
  shell.onStop('drain', 'move the calls to other nodes, then close rooms and workers', () => node.evacuate().then(() => node.close()));
  shell.onStop('close', 'registry', () => Promise.all([registry.close(), redis.close()]));
  await shell.start(node.metrics.registry);
});
