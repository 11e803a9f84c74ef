import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres — for the same `pg` code as a real server. */
  url: string;
  /** Closes the database (cleanly, so its files are consistent) and ends its process. Idempotent. */
  close(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /**
   * Default 20. Concurrent client connections the server accepts; keep it above the pool size.
   * PGlite has one session: each connection has it alone for a whole query or transaction while
   * the others wait their turn (see ./pglite-session-server.cjs).
   */
  maxConnections?: number;
}

const LOCK_FILE = 'pglite.lock';

/** Data directories open in this process. */
const openHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface DataDirLock {
  /** Records the PGlite child's pid beside ours, so a crashed parent's child still counts as an owner. */
  addOwner(pid: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * PGlite would happily open a data directory another process has open, and the two would corrupt
 * it; a lock file naming the owners' host and pids refuses the second. A lock whose processes are
 * all gone (a crash) is taken over.
 */
async function lockDataDir(dir: string): Promise<DataDirLock> {
  const file = path.join(dir, LOCK_FILE);
  if (openHere.has(dir)) throw new Error(`${dir} is already open in this process`);
  // Reserved before the first await, so a lock file naming this process is always a leftover.
  openHere.add(dir);
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(`${hostname()} ${process.pid}\n`);
        await handle.close();
        return {
          addOwner: (pid) => writeFile(file, `${hostname()} ${process.pid} ${pid}\n`, { mode: 0o600 }),
          async release() {
            openHere.delete(dir);
            await rm(file, { force: true });
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const [host, ...pidTexts] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      const pids = pidTexts.map(Number);
      const gone = (pid: number) => Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || !isAlive(pid));
      const stale = host === hostname() && pids.length > 0 && pids.every(gone);
      if (!stale) throw new Error(`${dir} is in use by process ${pidTexts.join(', ')} on ${host} (remove ${file} if it is gone)`);
      await rm(file, { force: true });
    }
    throw new Error(`could not lock ${dir}`);
  } catch (error) {
    openHere.delete(dir);
    throw error;
  }
}

/** The child process running PGlite (plain CommonJS, so plain node runs it). */
const SERVER_SCRIPT = path.join(__dirname, 'pglite-server.cjs');
/** The first start creates the cluster: ~5-10 s on a small machine. */
const START_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 15_000;

type ServerMessage = { type: 'ready'; port: number } | { type: 'failed'; message: string };

/**
 * PostgreSQL without a server to install: PGlite (Postgres compiled to WASM) with its data in
 * `<dataDir>/pglite`, served on an ephemeral 127.0.0.1 port by ./pglite-session-server.cjs so the API
 * uses the same `pg` code as with a real server. The first start creates the cluster (several seconds);
 * later starts reopen it.
 *
 * PGlite runs in a child process (./pglite-server.cjs): its ~700 MB stay out of the API's heap
 * and a WASM abort cannot take the API down; the API sees connection errors (UNAVAILABLE)
 * instead. (It also loads through dynamic import(), which jest's module sandbox cannot run.) The
 * child closes itself cleanly if this process dies. statement_timeout has no effect in PGlite.
 * Prints nothing; the child's stderr is kept for the error message if it fails to start.
 */
export async function startEmbeddedPostgres(dataDir: string, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dir = path.resolve(dataDir, 'pglite');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = await lockDataDir(dir);

  let child: ChildProcess;
  try {
    child = fork(SERVER_SCRIPT, [dir, String(options.maxConnections ?? 20)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
  } catch (error) {
    await lock.release();
    throw error;
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        if (running()) {
          if (child.connected) child.send({ type: 'close' });
          else child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
          await exited;
          clearTimeout(kill);
        }
      } finally {
        await lock.release();
      }
    })());

  let port: number;
  try {
    if (child.pid) await lock.addOwner(child.pid);
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PGlite did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        child.off('message', onMessage).off('exit', onExit).off('error', onError);
        fn();
      };
      const onMessage = (message: ServerMessage) => {
        if (message.type === 'ready') settle(() => resolve(message.port));
        else settle(() => reject(new Error(`PGlite failed to start: ${message.message}`)));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        settle(() => reject(new Error(`PGlite exited (${code ?? signal}) while starting: ${stderr.trim() || 'no output'}`)));
      const onError = (error: Error) => settle(() => reject(error));
      child.on('message', onMessage).once('exit', onExit).once('error', onError);
    });
  } catch (error) {
    if (running()) child.kill('SIGKILL');
    await close();
    throw error;
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, close };
}
