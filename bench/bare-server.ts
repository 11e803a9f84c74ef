/**
 * The benchmark's baseline: a bare socket.io server in a process of its own. POST /broadcast with a
 * JSON body answers 204 and then emits the body to every connected socket as `message:created` —
 * the same order as the API (acknowledge, then publish), without authentication, a database, an
 * audience or Redis. Prints its port on stdout once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

const MAX_BODY_BYTES = 64 * 1024;

const httpServer = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/broadcast') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(204).end();
    setImmediate(() => io.emit('message:created', payload));
  });
});

const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: MAX_BODY_BYTES });

httpServer.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(httpServer.address() as AddressInfo).port}\n`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
