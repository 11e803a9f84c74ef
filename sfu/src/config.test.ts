import os from 'node:os';
import { ConfigError } from '@concord/service-shell';
import { loadSfuConfig } from './config';

const SECRET = 'a-secret-of-enough-length';

test('defaults fill everything but the secret', () => {
  const config = loadSfuConfig({ SFU_SECRET: SECRET });
  expect(config).toMatchObject({
    workers: os.cpus().length,
    rtcPortBase: 40000,
    listenIp: '127.0.0.1',
    announcedAddress: undefined,
    controlPort: 4443,
    controlHost: '127.0.0.1',
    controlListenIp: '127.0.0.1',
    secret: SECRET,
    capacity: 500 * os.cpus().length,
    peerGraceMs: 15_000,
    heartbeatIntervalMs: 3_000,
    heartbeatTtlMs: 10_000,
    redisKeyPrefix: 'concord:',
    socketBuffers: { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 },
    drainTimeoutMs: 60_000,
    drainBatch: { peers: 20, intervalMs: 1_000 },
    // The stop's deadline covers the drain and then the usual 10 s to close.
    shell: expect.objectContaining({ logLevel: 'info', opsPort: 9103, shutdownTimeoutMs: 70_000 }),
  });
  expect(config.nodeId).toMatch(new RegExp(`^${os.hostname()}-[0-9a-f]{6}$`));
  expect(loadSfuConfig({ SFU_SECRET: SECRET }).nodeId).not.toBe(config.nodeId);
});

test('the environment is read and overrides win over it', () => {
  const env = {
    SFU_SECRET: SECRET,
    SFU_NODE_ID: 'sfu-7',
    SFU_WORKERS: '3',
    SFU_RTC_PORT_BASE: '50000',
    SFU_LISTEN_IP: '0.0.0.0',
    SFU_ANNOUNCED_ADDRESS: 'media.example.org',
    SFU_CONTROL_PORT: '0',
    SFU_CONTROL_HOST: '10.0.0.5',
    SFU_PEER_GRACE_MS: '2000',
    SFU_RECV_BUFFER_SIZE: '8388608',
    SFU_SEND_BUFFER_SIZE: '1048576',
    SFU_DRAIN_TIMEOUT_MS: '5000',
    SFU_DRAIN_BATCH: '4',
    REDIS_KEY_PREFIX: 'concord-eu:',
    LOG_LEVEL: 'debug',
  };
  expect(loadSfuConfig(env)).toMatchObject({
    nodeId: 'sfu-7',
    workers: 3,
    rtcPortBase: 50000,
    listenIp: '0.0.0.0',
    announcedAddress: 'media.example.org',
    controlPort: 0,
    controlHost: '10.0.0.5',
    controlListenIp: '10.0.0.5',
    capacity: 1500,
    peerGraceMs: 2000,
    redisKeyPrefix: 'concord-eu:',
    socketBuffers: { recvBufferSize: 8_388_608, sendBufferSize: 1_048_576 },
    drainTimeoutMs: 5000,
    drainBatch: { peers: 4, intervalMs: 1_000 },
    shell: expect.objectContaining({ logLevel: 'debug', shutdownTimeoutMs: 15_000 }),
  });
  expect(loadSfuConfig(env, { workers: 1, announcedAddress: undefined, listenIp: '127.0.0.1' })).toMatchObject({
    workers: 1,
    announcedAddress: undefined,
    capacity: 500,
  });
});

test('the secret is required and long, except in embedded mode where one is made up', () => {
  expect(() => loadSfuConfig({})).toThrow(ConfigError);
  expect(() => loadSfuConfig({ SFU_SECRET: 'short' })).toThrow(/SFU_SECRET/);
  const embedded = loadSfuConfig({}, { embedded: true });
  expect(embedded.secret.length).toBeGreaterThanOrEqual(16);
  expect(loadSfuConfig({}, { embedded: true }).secret).not.toBe(embedded.secret);
});

test.each([
  [{ SFU_WORKERS: 'two' }, /SFU_WORKERS/],
  [{ SFU_WORKERS: '0' }, /SFU_WORKERS/],
  [{ SFU_CONTROL_PORT: '70000' }, /SFU_CONTROL_PORT/],
  [{ SFU_RTC_PORT_BASE: '65535', SFU_WORKERS: '2' }, /not a port/],
  [{ SFU_LISTEN_IP: 'localhost' }, /SFU_LISTEN_IP/],
  [{ SFU_LISTEN_IP: '0.0.0.0' }, /SFU_ANNOUNCED_ADDRESS/],
  [{ SFU_HEARTBEAT_INTERVAL_MS: '20000' }, /TTL/],
  [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  [{ SFU_RECV_BUFFER_SIZE: '1000' }, /SFU_RECV_BUFFER_SIZE/],
])('%j is refused', (env, message) => {
  expect(() => loadSfuConfig({ SFU_SECRET: SECRET, ...env })).toThrow(message);
});
