import pino from 'pino';
import { Registry } from 'prom-client';
import { Readiness } from './readiness';
import { registerReadinessMetrics } from './readiness-metrics';

test('each check and the whole readiness are gauges, read when scraped', async () => {
  const readiness = new Readiness(pino({ level: 'silent' }));
  let databaseUp = true;
  readiness.register('database', async () => {
    if (!databaseUp) throw new Error('connection refused');
  });
  readiness.register('redis', async () => true);
  const registry = new Registry();
  registerReadinessMetrics(readiness, registry);

  const text = await registry.metrics();
  expect(text).toContain('concord_readiness_check_up{check="database"} 1');
  expect(text).toContain('concord_readiness_check_up{check="redis"} 1');
  expect(text).toContain('concord_ready 1');

  databaseUp = false;
  // Past the reuse window, a scrape runs the checks again.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const down = await registry.metrics();
  expect(down).toContain('concord_readiness_check_up{check="database"} 0');
  expect(down).toContain('concord_readiness_check_up{check="redis"} 1');
  expect(down).toContain('concord_ready 0');
});
