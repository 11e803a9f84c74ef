import { setTimeout as sleep } from 'node:timers/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { z } from 'zod';
import { parseEnv, parsers, redisReachable, runService, ServiceShell, shellConfigOf, shellVariables, variable } from '../src';

/** A service of nothing but the shell, for its process tests: a Redis readiness check and a drain step of a set length. */
const FixtureVariables = z.object({
  ...shellVariables({ opsPort: 0 }),
  FIXTURE_REDIS_URL: variable(parsers.url('redis'), { description: 'Redis the readiness check pings' }),
  FIXTURE_DRAIN_MS: variable(parsers.integer(0, 60_000), { default: 0, description: 'how long the drain step takes' }),
});

runService('fixture', async () => {
  const config = parseEnv(FixtureVariables, process.env);
  const shell = new ServiceShell({ service: 'fixture', config: shellConfigOf(config) });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  if (config.FIXTURE_REDIS_URL) {
    const redis = redisReachable(config.FIXTURE_REDIS_URL);
    shell.readiness.register('redis', redis.check);
    shell.onStop('close', 'redis', () => redis.close());
  }
  shell.onStop('drain', 'work in hand', async () => {
    shell.log.info('draining');
    await sleep(config.FIXTURE_DRAIN_MS);
    shell.log.info('drained');
  });
  await shell.start(metrics);
  shell.log.info('fixture ready');
});
