import { createServer } from 'node:http';
import express from 'express';
import pino from 'pino';
import { buildApiDeps, createApiApp, InProcessRealtimePublisher, loadConfig as loadApiConfig } from '@concord/api';
import { InProcessPresenceStore, InProcessRegistry } from '@concord/registry';
import { loadSfuConfig, SfuNode } from '@concord/sfu';
import { loadSignalingConfig, Signaling, TokenVerifier } from '@concord/signaling';
import { webAssets } from './web-assets';

/**
 * `npm start`: API, signaling, one SFU node and the web client in one process on one port, with
 * embedded defaults (in-process room registry, local sign-in, data in CONCORD_DATA_DIR). The same
 * modules run as separate services in a cluster (README "Running a cluster").
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const registry = new InProcessRegistry();
  // Real-time delivery without Redis: the API's events go straight into this process's signaling,
  // and member lists read presence from the same store signaling keeps it in.
  const realtime = new InProcessRealtimePublisher();
  const presence = new InProcessPresenceStore();

  const sfu = new SfuNode(loadSfuConfig(process.env, { embedded: true, controlPort: 0 }), registry, { logger: log.child({ service: 'sfu' }) });
  await sfu.start();

  const apiDeps = await buildApiDeps(loadApiConfig(process.env), log.child({ service: 'api' }), { realtime, presence });
  const app = express();
  app.disable('x-powered-by');
  // ASSET_BASE_URL: the CDN the web client was built for (README), allowed by its Content-Security-Policy.
  app.use(webAssets({ assetBaseUrl: process.env.ASSET_BASE_URL, firebase: apiDeps.clientConfig?.firebase }));
  app.use(createApiApp(apiDeps));
  const httpServer = createServer(app);

  const signaling = new Signaling(httpServer, {
    config: loadSignalingConfig(process.env, { sfuSecret: sfu.config.secret }),
    registry,
    verifier: TokenVerifier.fromJwks(apiDeps.jwks),
    // The API's own sessions: a revocation is seen by signaling the moment the API has made it.
    revokedSessions: apiDeps.sessionService,
    log: log.child({ service: 'signaling' }),
    // A connecting socket joins the rooms of its user's servers (presence is announced there).
    realtime: { presence, membership: { serversOf: (userId) => apiDeps.guild.userServers(userId) } },
  });
  realtime.attach(signaling.realtime);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, resolve);
  });
  const shown = host === '0.0.0.0' || host === '127.0.0.1' ? 'localhost' : host;
  const workers = sfu.workers();
  process.stdout.write(
    [
      '',
      `  Concord is running: open http://${shown}:${port}`,
      `  SFU ${sfu.id}: ${workers.length} workers, media on ${sfu.config.announcedAddress ?? sfu.config.listenIp} UDP/TCP ports ${workers.map((w) => w.port).join(', ')}`,
      '  Embedded mode: in-process registry, embedded PostgreSQL (PGlite), local sign-in; no Redis needed. Ctrl+C stops.',
      '',
    ].join('\n') + '\n',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await signaling.close();
    await realtime.close();
    await presence.close();
    httpServer.close();
    await sfu.close();
    await apiDeps.close();
    await registry.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`Concord failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
