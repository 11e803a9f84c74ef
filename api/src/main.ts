import { redisReachable, runService, ServiceShell } from '@concord/service-shell';
import { loadConfig } from './config';
import { startApi } from './server';

/** The API as a service of a cluster: readiness is its database and Redis. */
runService('api', async () => {
  const config = loadConfig();
  const shell = new ServiceShell({ service: 'api', config: config.shell });
  const api = await startApi(config, shell.log);
  shell.readiness.register('database', () => api.deps.database.db.ping());
  if (config.redisUrl) {
    const redis = redisReachable(config.redisUrl);
    shell.readiness.register('redis', redis.check);
    shell.onStop('close', 'redis readiness check', () => redis.close());
  }
  // Stops accepting, lets requests in flight finish, then closes the database and Redis clients.
  shell.onStop('drain', 'http server and stores', () => api.close());
  await shell.start(api.deps.metrics.registry);
  shell.log.info({ 'url.full': api.url }, `api listening on ${api.url}`);
});
