import { createServer } from 'node:http';
import express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildApiDeps, createApiApp, InProcessRealtimePublisher, loadConfig as loadApiConfig } from '@concord/api';
import { InProcessPresenceStore, InProcessRegistry } from '@concord/registry';
import { loadSfuConfig, SfuNode } from '@concord/sfu';
import { runService, ServiceShell } from '@concord/service-shell';
import { loadSignalingConfig, Signaling, TokenVerifier } from '@concord/signaling';
import { loadStandaloneConfig } from './config';
import { webAssets } from './web-assets';

/**
 * `npm start`: API, signaling, one SFU node and the web client in one process on one port, with
 * embedded defaults (in-process room registry, local sign-in, data in CONCORD_DATA_DIR). The same
 * modules run as separate services in a cluster (README "Running a cluster").
 */
runService('concord', async () => {
  const config = loadStandaloneConfig();
  const { port, host } = config;
  const shell = new ServiceShell({ service: 'concord', config: config.shell });
  const log = shell.log;
  // One registry for the process: the default metrics once, each service's own beside them.
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const registry = new InProcessRegistry();
  // Real-time delivery without Redis: the API's events go straight into this process's signaling,
  // and member lists read presence from the same store signaling keeps it in.
  const realtime = new InProcessRealtimePublisher();
  const presence = new InProcessPresenceStore();

  const sfu = new SfuNode(loadSfuConfig(process.env, { embedded: true, controlPort: 0 }), registry, { logger: log.child({ service: 'sfu' }), metrics: { registry: metrics } });
  await sfu.start();

  const apiDeps = await buildApiDeps(loadApiConfig(process.env), log.child({ service: 'api' }), { realtime, presence, metrics: { registry: metrics } });
  const app = express();
  app.disable('x-powered-by');
  // The ops endpoints on the main port: there is no other.
  app.use((req, res, next) => {
    if (!shell.handleOps(req, res)) next();
  });
  app.use(webAssets({ assetBaseUrl: config.assetBaseUrl, firebase: apiDeps.clientConfig?.firebase }));
  app.use(createApiApp(apiDeps));
  const httpServer = createServer(app);

  const signaling = new Signaling(httpServer, {
    config: loadSignalingConfig(process.env, { sfuSecret: sfu.config.secret }),
    registry,
    verifier: TokenVerifier.fromJwks(apiDeps.jwks),
    // The API's own sessions: a revocation is seen by signaling the moment the API has made it.
    revokedSessions: apiDeps.sessionService,
    log: log.child({ service: 'signaling' }),
    metrics: { registry: metrics },
    // A connecting socket joins the rooms of its user's servers (presence is announced there).
    realtime: { presence, membership: { serversOf: (userId) => apiDeps.guild.userServers(userId) } },
  });
  realtime.attach(signaling.realtime);

  shell.readiness.register('database', () => apiDeps.database.db.ping());
  shell.readiness.register('workers', async () => sfu.workers().every((worker) => worker.pid !== undefined));
  shell.onStop('stop-accepting', 'take no new rooms', () => sfu.drain());
  shell.onStop('drain', 'sockets and requests', async () => {
    await signaling.close();
    await new Promise((resolve) => httpServer.close(resolve));
  });
  shell.onStop('close', 'media and stores', async () => {
    await realtime.close();
    await presence.close();
    await sfu.close();
    await apiDeps.close();
    await registry.close();
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, resolve);
  });
  await shell.start(metrics);
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
});
