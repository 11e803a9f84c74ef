import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports';

/**
 * The Firebase Auth emulator for tests, started from a test file's beforeAll so only the runs that
 * need it pay its ~7 s start.
 *
 * It runs with the repo's firebase.json, but on a free port rather than 9099, so test runs (and a
 * developer's own emulator) side by side never meet each other's emulator. It cannot outlive the
 * test process: it runs under a small shell that holds a pipe from us and stops it when that pipe
 * closes, which happens in stop() and also when the test process dies in any way (even SIGKILL),
 * because the kernel closes our end of the pipe then.
 */

const ROOT = path.resolve(__dirname, '../..');
const FIREBASE_BIN = path.join(ROOT, 'node_modules/.bin/firebase');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * `sh -c SUPERVISOR sh firebase …args`: runs the emulator with /dev/null as its stdin, and a
 * watcher that reads our pipe (saved as fd 3) until it closes, then sends SIGTERM. The shell
 * exits when the emulator does.
 */
const SUPERVISOR = `
exec 3<&0
"$@" </dev/null 3<&- &
child=$!
( cat <&3 >/dev/null; kill -TERM "$child" 2>/dev/null ) &
exec 3<&-
wait "$child"
`;

export interface FirebaseAuthEmulator {
  /** host:port, the value of FIREBASE_AUTH_EMULATOR_HOST. */
  host: string;
  /** A demo- project: the emulator serves it without any Google account. */
  projectId: string;
  /** Stops the emulator and waits until it is gone. Idempotent. */
  stop(): Promise<void>;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

async function isReady(origin: string): Promise<boolean> {
  try {
    const response = await fetch(`${origin}/`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { authEmulator?: { ready?: boolean } };
    return body.authEmulator?.ready === true;
  } catch {
    return false;
  }
}

export async function startFirebaseAuthEmulator(projectId = 'demo-concord'): Promise<FirebaseAuthEmulator> {
  const dir = await mkdtemp(path.join(tmpdir(), 'concord-firebase-'));
  const config = JSON.parse(await readFile(path.join(ROOT, 'firebase.json'), 'utf8')) as { emulators: { auth: { host: string; port: number } } };
  const port = await freePort();
  config.emulators.auth.port = port;
  await writeFile(path.join(dir, 'firebase.json'), JSON.stringify(config));
  const host = `${config.emulators.auth.host}:${port}`;
  const logFile = path.join(dir, 'emulator.log');

  const log = openSync(logFile, 'w');
  const env = { ...process.env };
  delete env.FIREBASE_AUTH_EMULATOR_HOST;
  const child = spawn(
    '/bin/sh',
    ['-c', SUPERVISOR, 'sh', FIREBASE_BIN, 'emulators:start', '--only', 'auth', '--project', projectId, '--config', path.join(dir, 'firebase.json')],
    // Its own process group, so stop() can sweep up everything it started.
    { cwd: dir, env, detached: true, stdio: ['pipe', log, log] },
  );
  closeSync(log);
  const gone = exited(child);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.stdin?.end();
      await Promise.race([gone, sleep(STOP_TIMEOUT_MS)]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // The group is already empty.
      }
      await gone;
      await rm(dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + START_TIMEOUT_MS;
  let stopped = false;
  void gone.then(() => {
    stopped = true;
  });
  while (!(await isReady(`http://${host}`))) {
    if (stopped || Date.now() > deadline) {
      const output = await readFile(logFile, 'utf8').catch(() => '');
      await stop();
      throw new Error(`the Firebase Auth emulator ${stopped ? 'exited' : `was not ready within ${START_TIMEOUT_MS} ms`}:\n${output.slice(-2_000)}`);
    }
    await sleep(100);
  }
  return { host, projectId, stop };
}
