'use strict';
/**
 * A PostgreSQL wire-protocol server in front of one PGlite database, for the `pg` pool of the API.
 *
 * PGlite has ONE backend session. pglite-socket's own server queues single protocol messages, so
 * the Parse/Bind/Execute/Sync of two connections interleave on that session (a Bind meets another
 * query's Parse, a portal vanishes, one request reads another's rows). Here a connection owns the
 * session from its first message until the backend reports ReadyForQuery "idle" (after a Sync or
 * a simple query outside a transaction): a whole query, or a whole transaction, runs alone, and
 * the other connections wait their turn in arrival order. What runs in between — the API's own
 * work between statements of different requests — stays concurrent.
 *
 * A connection that keeps the session without sending anything (an abandoned transaction) loses
 * it after `holdTimeoutMs`: its socket is closed and its transaction rolled back, as PostgreSQL's
 * idle_in_transaction_session_timeout would.
 */
const net = require('node:net');

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Frontend Sync: ends an extended-protocol exchange, and any error state it left. */
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
/** Frontend simple Query "ROLLBACK". */
const ROLLBACK = (() => {
  const sql = Buffer.from('ROLLBACK\0');
  const message = Buffer.alloc(5 + sql.length);
  message[0] = 0x51;
  message.writeInt32BE(4 + sql.length, 1);
  sql.copy(message, 5);
  return message;
})();

/**
 * The transaction status of the last ReadyForQuery ('Z') among backend messages: 'I' idle, 'T' in
 * a transaction, 'E' in a failed transaction; null when there is none (mid extended protocol).
 */
function lastReadyStatus(output) {
  let status = null;
  for (let at = 0; at + 5 <= output.length; ) {
    const length = output.readInt32BE(at + 1);
    if (output[at] === 0x5a && length === 5 && at + 6 <= output.length) status = String.fromCharCode(output[at + 5]);
    at += 1 + length;
  }
  return status;
}

/** One backend session, lent to one connection at a time, first come first served. */
class SessionLock {
  constructor() {
    this.owner = null;
    this.waiting = [];
  }

  /** Resolves once `connection` owns the session. */
  acquire(connection) {
    if (this.owner === connection) return Promise.resolve();
    if (this.owner === null) {
      this.owner = connection;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ connection, resolve }));
  }

  release(connection) {
    if (this.owner !== connection) return;
    const next = this.waiting.shift();
    this.owner = next ? next.connection : null;
    next?.resolve();
  }

  /** A connection that closed while waiting gives up its place. */
  forget(connection) {
    this.waiting = this.waiting.filter((entry) => entry.connection !== connection);
  }
}

class Connection {
  constructor(socket, db, lock, options) {
    this.socket = socket;
    this.db = db;
    this.lock = lock;
    this.options = options;
    this.buffer = Buffer.alloc(0);
    this.pending = [];
    this.started = false;
    this.running = false;
    this.holding = false;
    this.closed = false;
    this.holdTimer = undefined;
    /** Resolves once the connection is gone and the session is clean again. */
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void this.close());
  }

  receive(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      // The first message has no type byte: startup, or a request for SSL/GSS encryption (refused with 'N').
      const headerLength = this.started ? 5 : 8;
      if (this.buffer.length < headerLength) break;
      const length = this.started ? 1 + this.buffer.readInt32BE(1) : this.buffer.readInt32BE(0);
      if (length < 4 || this.buffer.length < length) break;
      const message = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      if (!this.started) {
        const code = message.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end();
          return;
        }
        this.started = true;
      } else if (message[0] === 0x58) {
        // Terminate
        this.socket.end();
        return;
      }
      this.pending.push(message);
    }
    void this.pump();
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        if (!this.holding) {
          await this.lock.acquire(this);
          this.holding = true;
          if (this.closed) break;
        }
        clearTimeout(this.holdTimer);
        const status = await this.execute(this.pending.shift(), (data) => this.socket.writable && this.socket.write(data));
        // null: mid-exchange (a Parse/Bind before its Sync), keep the session for what follows.
        if (status === 'I') this.releaseSession();
        else this.holdTimer = setTimeout(() => this.socket.destroy(), this.options.holdTimeoutMs).unref();
      }
    } catch (error) {
      process.stderr.write(`pglite session: ${error?.stack ?? error}\n`);
      this.socket.destroy();
    } finally {
      this.running = false;
    }
    if (this.closed) await this.close();
  }

  /** Runs one frontend message on the session; returns the last ReadyForQuery status it produced. */
  async execute(message, onData) {
    const chunks = [];
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), {
        onRawData: (data) => {
          const chunk = Buffer.from(data);
          chunks.push(chunk);
          onData?.(chunk);
        },
      }),
    );
    return lastReadyStatus(Buffer.concat(chunks));
  }

  releaseSession() {
    clearTimeout(this.holdTimer);
    this.holding = false;
    this.lock.release(this);
  }

  /**
   * Gone mid-exchange or mid-transaction: end the exchange and roll back before the next
   * connection gets the session, so it starts from a clean one. Once, after any running message.
   */
  async close() {
    this.closed = true;
    this.pending.length = 0;
    clearTimeout(this.holdTimer);
    if (this.running) return; // pump() calls close() again when its message is done
    this.lock.forget(this);
    if (this.cleaning) return;
    this.cleaning = true;
    try {
      if (this.holding) {
        await this.execute(SYNC);
        if (this.db.isInTransaction()) await this.execute(ROLLBACK);
      }
    } catch (error) {
      process.stderr.write(`pglite session cleanup: ${error?.stack ?? error}\n`);
    } finally {
      if (this.holding) this.releaseSession();
      this.finish();
    }
  }
}

/**
 * Serves `db` on host:port (0: an ephemeral port). Resolves with { port, stop() } once listening;
 * stop() closes the listener and every connection (their transactions roll back).
 */
function serveSession(db, { host = '127.0.0.1', port = 0, maxConnections = 20, holdTimeoutMs = 30_000 } = {}) {
  const lock = new SessionLock();
  const connections = new Set();
  const server = net.createServer((socket) => {
    const connection = new Connection(socket, db, lock, { holdTimeoutMs });
    connections.add(connection);
    void connection.finished.then(() => connections.delete(connection));
  });
  server.maxConnections = maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: server.address().port,
        async stop() {
          const closed = new Promise((done) => server.close(() => done()));
          const open = [...connections];
          for (const connection of open) connection.socket.destroy();
          await Promise.all([closed, ...open.map((connection) => connection.finished)]);
        },
      });
    });
  });
}

module.exports = { serveSession, lastReadyStatus };
