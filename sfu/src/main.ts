import pino from 'pino';
import { RedisRegistry } from '@concord/registry';
import { loadSfuConfig } from './config';
import { SfuNode } from './sfu-node';

/*
 * The standalone SFU process. The room registry must be shared with signaling and the other
 * nodes, so it is Redis here; the in-process registry only serves the embedded single process.
 * The node itself logs the startup line (id, control URL, workers, ports).
 */
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'sfu' } });

async function main(): Promise<void> {
  const config = loadSfuConfig(process.env);
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is required: a standalone SFU node shares its room registry through Redis');
  const registry = new RedisRegistry(redisUrl, { keyPrefix: config.redisKeyPrefix });
  const node = new SfuNode(config, registry, { logger });
  await node.start();

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'closing the SFU node');
    node
      .close()
      .then(() => registry.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'the SFU node did not close cleanly');
        process.exit(1);
      });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'the SFU node failed to start');
  process.exit(1);
});
