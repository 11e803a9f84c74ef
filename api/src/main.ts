import pino from 'pino';
import { loadConfig } from './config';
import { startApi } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const api = await startApi(config, logger);
  logger.info(`api listening on ${api.url}`);
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'api stopping');
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'api did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error('api failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
