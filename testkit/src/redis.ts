import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './ports';
import { eventually } from './wait';

/* Redis for tests: the shared server (each test under a key prefix of its own, removed after) and throwaway servers to stop and start. */

/** The shared test Redis; REDIS_URL overrides. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Removes every key under `prefix` (a test run's own) from a Redis, the shared one by default. */
export async function deleteKeys(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A redis-server of the test's own on a free loopback port, without persistence (a restart comes back empty). */
export class ThrowawayRedis {
  #process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<ThrowawayRedis> {
    const redis = new ThrowawayRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on its port and resolves once it answers PING. */
  async start(): Promise<void> {
    this.#process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    try {
      await eventually(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000, `redis-server answers on ${this.port}`);
    } finally {
      probe.disconnect();
    }
  }

  /** A clean stop (SIGTERM). */
  stop(): Promise<void> {
    return this.#end('SIGTERM');
  }

  /** Kills the server (no goodbye to its clients) and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.#end('SIGKILL');
    await this.start();
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const running = this.#process;
    this.#process = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  }
}
