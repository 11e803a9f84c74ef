'use strict';
/**
 * The child process of startEmbeddedPostgres (./embedded.ts): PGlite with its data in the
 * directory given as the first argument, served by pglite-socket on an ephemeral 127.0.0.1 port.
 * Plain CommonJS so that plain `node` runs it, whatever runs the parent (tsx, ts-jest, compiled).
 *
 * Messages: to the parent { type: 'ready', port } or { type: 'failed', message }; from the
 * parent { type: 'close' }. It also closes (cleanly, so PGlite flushes its files) when the parent
 * goes away or on SIGTERM. SIGINT is ignored: Ctrl-C reaches the whole process group, and the
 * parent closes us after its own requests are done.
 */
const { PGlite } = require('@electric-sql/pglite');
const { PGLiteSocketServer } = require('@electric-sql/pglite-socket');

const [dataDir, maxConnections] = process.argv.slice(2);
let db;
let server;
let closing;

function close(code) {
  closing ??= (async () => {
    try {
      await server?.stop();
      // stop() detaches connections without waiting; let their rollbacks run first.
      await new Promise((resolve) => setImmediate(resolve));
      if (db && !db.closed) await db.close();
    } catch (error) {
      process.stderr.write(`pglite close failed: ${error?.stack ?? error}\n`);
      code = 1;
    }
    process.exit(code);
  })();
  return closing;
}

process.on('message', (message) => {
  if (message?.type === 'close') void close(0);
});
process.on('disconnect', () => void close(0));
process.on('SIGTERM', () => void close(0));
process.on('SIGINT', () => undefined);

(async () => {
  try {
    db = await PGlite.create({ dataDir });
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: Number(maxConnections) || 20 });
    await server.start();
    process.send?.({ type: 'ready', port: Number(server.getServerConn().split(':').pop()) });
  } catch (error) {
    process.send?.({ type: 'failed', message: String(error?.stack ?? error) }, () => void close(1));
  }
})();
