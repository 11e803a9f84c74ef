import { statusOf } from '@concord/testkit/src/http';
import { expectEcsLines, ServiceProcess } from '@concord/testkit/src/processes';
import { ThrowawayRedis } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';

/* Signaling as the process a cluster runs (signaling/src/main.ts through the service shell), on a Redis of the test's own. */

let redis: ThrowawayRedis;
afterAll(() => redis?.stop());

test('signaling: ready while Redis answers, stops cleanly on SIGTERM, every line ECS JSON', async () => {
  redis = await ThrowawayRedis.start();
  const signaling = new ServiceProcess('signaling/src/main.ts', {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `concord-signaling-service-test:${process.pid}:`,
    SFU_SECRET: 'signaling-service-test-secret',
    API_JWKS_URL: 'http://127.0.0.1:9/api/.well-known/jwks.json',
    SIGNALING_HOST: '127.0.0.1',
    SIGNALING_PORT: '0',
    SIGNALING_ID: 'signaling-under-test',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_FORMAT: 'json',
  });
  try {
    const ops = await signaling.loggedUrl('ops endpoints');
    await signaling.loggedUrl('signaling listening');
    expect(await statusOf(`${ops}/readyz`)).toBe(200);
    await redis.stop();
    expect(await statusOf(`${ops}/readyz`)).toBe(503);
    expect(await statusOf(`${ops}/healthz`)).toBe(200);
    await redis.start();
    await eventually(async () => (await statusOf(`${ops}/readyz`)) === 200, 15_000, 'ready with Redis back');
    expect(await (await fetch(`${ops}/metrics`)).text()).toMatch(/^concord_signaling_sockets 0$/m);
    signaling.signal('SIGTERM');
    expect(await signaling.exited).toEqual({ code: 0, signal: null });
    expectEcsLines(signaling, 'signaling');
    expect(signaling.entries()[0]).toMatchObject({ 'service.node.name': 'signaling-under-test' });
  } finally {
    await signaling.kill();
  }
}, 60_000);
