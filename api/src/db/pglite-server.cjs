'use strict';
/**
 * The child process of startEmbeddedPostgres (./embedded.ts): PGlite with its data in the
 * directory given as the first argument, served on an ephemeral 127.0.0.1 port by
 * ./pglite-session-server.cjs, which lends PGlite's one session to one connection at a time.
 * Plain CommonJS so that plain `node` runs it, whatever runs the parent (tsx, ts-jest, compiled).
 *
 * Messages: to the parent { type: 'ready', port } or { type: 'failed', message }; from the
 * parent { type: 'close' }. It also closes (cleanly, so PGlite flushes its files) when the parent
 * goes away or on SIGTERM. SIGINT is ignored: Ctrl-C reaches the whole process group, and the
 * parent closes us after its own requests are done.
 */
const { PGlite } = require('@electric-sql/pglite');
const { serveSession } = require('./pglite-session-server.cjs');

const [dataDir, maxConnections] = process.argv.slice(2);
let db;
let server;
let closing;

function close(code) {
  closing ??= (async () => {
    try {
      // Ends every connection; those cut mid-transaction roll back first.
      await server?.stop();
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
    server = await serveSession(db, { host: '127.0.0.1', port: 0, maxConnections: Number(maxConnections) || 20 });
    process.send?.({ type: 'ready', port: server.port });
  } catch (error) {
    process.send?.({ type: 'failed', message: String(error?.stack ?? error) }, () => void close(1));
  }
})();
