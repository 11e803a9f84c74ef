import { UsageError } from '../../scripts/cli';
import { parseOptions } from './options';

describe('command-line options of the cluster target', () => {
  test('--nodes makes a cluster on the Redis of the environment, with settings for every node and a piped comparison', () => {
    const previous = { redis: process.env.REDIS_URL, database: process.env.DATABASE_URL };
    process.env.REDIS_URL = 'redis://127.0.0.1:6390';
    delete process.env.DATABASE_URL;
    try {
      const options = parseOptions(['--nodes', '2', '--node-env', 'SFU_HEARTBEAT_INTERVAL_MS=500', '--node-env', 'SFU_PEER_GRACE_MS=0', '--pipe-env', 'SFU_PIPE_ALL=1']);
      expect(options.cluster).toEqual({
        nodes: 2,
        redisUrl: 'redis://127.0.0.1:6390',
        nodeEnv: { SFU_HEARTBEAT_INTERVAL_MS: '500', SFU_PEER_GRACE_MS: '0' },
        pipeEnv: { SFU_PIPE_ALL: '1' },
        scaleOut: false,
      });
    } finally {
      for (const [key, value] of [['REDIS_URL', previous.redis], ['DATABASE_URL', previous.database]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  test('without --nodes there is no cluster', () => {
    expect(parseOptions(['--preset', 'voice']).cluster).toBeUndefined();
  });

  test('--scale-out compares two capacity searches', () => {
    expect(parseOptions(['--nodes', '2', '--search', '--scale-out']).cluster).toMatchObject({ nodes: 2, scaleOut: true });
    expect(() => parseOptions(['--nodes', '2', '--scale-out'])).toThrow(/--search/);
    expect(() => parseOptions(['--nodes', '1', '--search', '--scale-out'])).toThrow(/--nodes 2/);
  });

  test.each([
    [['--pipe-env', 'SFU_PIPE_ALL=1'], /needs a cluster/],
    [['--scale-out', '--search'], /needs a cluster/],
    [['--node-env', 'A=1'], /needs a cluster/],
    [['--nodes', '0'], /at least 1/],
    [['--nodes', 'two'], /whole number/],
    [['--nodes', '2', '--url', 'http://127.0.0.1:3000'], /choose one/],
    [['--nodes', '2', '--node-env', 'lower=1'], /KEY=VALUE/],
    [['--nodes', '2', '--pipe-env', 'SFU_PIPE_ALL'], /KEY=VALUE/],
  ])('%j is a mistake on the command line', (args, message) => {
    expect(() => parseOptions(args)).toThrow(UsageError);
    expect(() => parseOptions(args)).toThrow(message);
  });
});
