import { statusOf } from '@concord/testkit/src/http';
import { freePortBase } from '@concord/testkit/src/ports';
import { expectEcsLines, ServiceProcess } from '@concord/testkit/src/processes';
import { ThrowawayRedis } from '@concord/testkit/src/redis';
import { eventually } from '@concord/testkit/src/wait';

/* An SFU node as the process a cluster runs (sfu/src/main.ts through the service shell), on a Redis of the test's own. */

let redis: ThrowawayRedis;
afterAll(() => redis?.stop());

test('SFU node: ready with its workers and Redis, not ready without Redis, drains and exits 0 on SIGTERM, every line ECS JSON', async () => {
  redis = await ThrowawayRedis.start();
  const sfu = new ServiceProcess('sfu/src/main.ts', {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `concord-sfu-service-test:${process.pid}:`,
    SFU_SECRET: 'sfu-service-test-secret-0123',
    SFU_NODE_ID: 'sfu-under-test',
    SFU_WORKERS: '1',
    SFU_RTC_PORT_BASE: String(await freePortBase(1)),
    SFU_CONTROL_PORT: '0',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_FORMAT: 'json',
  });
  try {
    const ops = await sfu.loggedUrl('ops endpoints');
    const readyz = async () => (await fetch(`${ops}/readyz`)).json();
    expect(await readyz()).toMatchObject({ ready: true, checks: { redis: 'ok', workers: 'ok' } });
    await redis.stop();
    expect(await readyz()).toMatchObject({ ready: false, checks: { redis: 'failing', workers: 'ok' } });
    expect(await statusOf(`${ops}/healthz`)).toBe(200);
    await redis.start();
    await eventually(async () => (await statusOf(`${ops}/readyz`)) === 200, 15_000, 'ready with Redis back');
    expect(await (await fetch(`${ops}/metrics`)).text()).toMatch(/^concord_sfu_/m);
    sfu.signal('SIGTERM');
    expect(await sfu.exited).toEqual({ code: 0, signal: null });
    expectEcsLines(sfu, 'sfu');
    const messages = sfu.entries().map((entry) => entry.message);
    expect(messages).toEqual(expect.arrayContaining(['stopping (SIGTERM)', 'SFU node closed', expect.stringMatching(/^stopped in \d+ ms$/)]));
    expect(sfu.entries()[0]).toMatchObject({ 'service.node.name': 'sfu-under-test' });
  } finally {
    await sfu.kill();
  }
}, 60_000);
