import { RedisRegistry } from '@concord/registry';
import { ConfigError, redisReachable, runService, ServiceShell } from '@concord/service-shell';
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
  // Draining: placement skips the node from now on; then its rooms close and it leaves the registry.
  shell.onStop('stop-accepting', 'take no new rooms', () => node.drain());
  shell.onStop('drain', 'rooms and workers', () => node.close());
  shell.onStop('close', 'registry', () => Promise.all([registry.close(), redis.close()]));
  await shell.start(node.metrics.registry);
});
