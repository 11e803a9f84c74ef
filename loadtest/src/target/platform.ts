import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePortBase } from '@concord/testkit/src/ports';
import { commandName, descendantsOf, listeningPid, parentPid } from './proc';

const ROOT = path.resolve(__dirname, '../../..');
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 8_000;
/** mediasoup's worker binary, as /proc/<pid>/comm shows it (truncated to 15 characters). */
const WORKER_COMMAND = 'mediasoup-worke';

/** The processes that carry the SFU: the Node process owning the workers, and the workers. */
export interface SfuProcesses {
  nodePid: number | undefined;
  workerPids: number[];
  /** The platform's other processes (the launcher, the embedded database): their cost, apart. */
  otherPids: number[];
}

/** The platform under test: where to reach it and how to find its processes. */
export interface Target {
  /** Base URL of API and signaling (one origin in the standalone launcher). */
  readonly url: string;
  readonly description: string;
  /** Looked up on every call: a worker that died and was replaced has a new pid. */
  processes(): SfuProcesses;
  stop(): Promise<void>;
}

function sfuProcessesBelow(rootPid: number | undefined): SfuProcesses {
  if (rootPid === undefined) return { nodePid: undefined, workerPids: [], otherPids: [] };
  const all = [rootPid, ...descendantsOf(rootPid)];
  const workerPids = all.filter((pid) => commandName(pid) === WORKER_COMMAND);
  // The workers' parent is the SFU node's process (in the standalone launcher, API and signaling too).
  const nodePid = workerPids.length > 0 ? parentPid(workerPids[0]!) : rootPid;
  return { nodePid, workerPids, otherPids: all.filter((pid) => pid !== nodePid && !workerPids.includes(pid)) };
}

/**
 * `npm start`'s launcher as a child process on free ports, with its own data directory and
 * SFU_WORKERS (1 by default, so every number is per worker core). Sign-up limits and the node's
 * stream capacity are lifted: the load test makes hundreds of users from one IP, and placement
 * would otherwise refuse rooms at SFU_CAPACITY (500 streams a worker) before the SFU is loaded.
 */
export async function startStandalone(options: { workers: number; log?: (line: string) => void }): Promise<Target> {
  const rtcPortBase = await freePortBase(options.workers);
  let httpPort: number;
  do httpPort = await freePortBase(1);
  while (httpPort >= rtcPortBase && httpPort < rtcPortBase + options.workers);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'concord-loadtest-'));
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['standalone/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      CONCORD_DATA_DIR: dataDir,
      SFU_RTC_PORT_BASE: String(rtcPortBase),
      SFU_WORKERS: String(options.workers),
      SFU_CAPACITY: '1000000',
      AUTH_RATE_LIMIT: '1000000',
      LOG_LEVEL: 'warn',
    },
    // Its own process group, so the tsx wrapper, Node and the workers can be reaped together.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    for (const line of chunk.toString().split('\n')) if (line.trim()) options.log?.(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${httpPort}`;
  const target: Target = {
    url,
    description: `standalone launcher as a child process (SFU_WORKERS=${options.workers})`,
    processes: () => sfuProcessesBelow(child.pid),
    stop: () => stopChild(child, exited).finally(() => rmSync(dataDir, { recursive: true, force: true })),
  };
  try {
    await waitReady(url, child, () => output);
  } catch (error) {
    await target.stop();
    throw error;
  }
  return target;
}

/** A platform someone else started (`npm start`); its processes are found through the port it listens on. */
export function attachUrl(url: string): Target {
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) throw new Error(`--url must be on loopback (the load test sends media only there), got ${parsed.hostname}`);
  const port = Number(parsed.port || 80);
  return {
    url: parsed.origin,
    description: `running platform at ${parsed.origin}`,
    processes: () => sfuProcessesBelow(listeningPid(port)),
    stop: async () => undefined,
  };
}

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the platform exited with ${child.exitCode} before it was ready:\n${output()}`);
    const healthy = await fetch(`${url}/api/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy && output().includes('Concord is running')) return;
    if (Date.now() > deadline) throw new Error(`the platform was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    // tsx passes SIGTERM on to the launcher, which closes gracefully; the group goes if it hangs.
    child.kill('SIGTERM');
    const hardKill = setTimeout(() => killGroup(pid), STOP_GRACE_MS);
    await exited;
    clearTimeout(hardKill);
  }
  // Stragglers of our own child's group (workers whose parent went first).
  killGroup(pid);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}
