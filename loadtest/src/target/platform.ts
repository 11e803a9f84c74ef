import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePortBase } from '@concord/testkit/src/ports';
import { commandName, descendantsOf, listeningPid, parentPid } from './proc';
import { ServiceChild } from './service';

const READY_TIMEOUT_MS = 60_000;
/**
 * The platform's limits a load test must lift: it signs hundreds of users up from one IP, and
 * placement would refuse rooms at the default SFU_CAPACITY (500 streams a worker) before the SFU is
 * loaded.
 */
export const LIFTED_LIMITS = { SFU_CAPACITY: '1000000', AUTH_RATE_LIMIT: '1000000' } as const;
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
  /** Base URL of the API (and of the web client, for browsers). */
  readonly url: string;
  /** Base URL of signaling: the API's origin in the standalone launcher, its own in a cluster. */
  readonly signalingUrl: string;
  readonly description: string;
  /** Looked up on every call: a worker that died and was replaced has a new pid. */
  processes(): SfuProcesses;
  stop(): Promise<void>;
}

export function sfuProcessesBelow(rootPid: number | undefined): SfuProcesses {
  if (rootPid === undefined) return { nodePid: undefined, workerPids: [], otherPids: [] };
  const all = [rootPid, ...descendantsOf(rootPid)];
  const workerPids = all.filter((pid) => commandName(pid) === WORKER_COMMAND);
  // The workers' parent is the SFU node's process (in the standalone launcher, API and signaling too).
  const nodePid = workerPids.length > 0 ? parentPid(workerPids[0]!) : rootPid;
  return { nodePid, workerPids, otherPids: all.filter((pid) => pid !== nodePid && !workerPids.includes(pid)) };
}

/**
 * `npm start`'s launcher as a child process on free ports, with its own data directory and
 * SFU_WORKERS (1 by default, so every number is per worker core), `LIFTED_LIMITS` lifted.
 */
export async function startStandalone(options: { workers: number }): Promise<Target> {
  const rtcPortBase = await freePortBase(options.workers);
  let httpPort: number;
  do httpPort = await freePortBase(1);
  while (httpPort >= rtcPortBase && httpPort < rtcPortBase + options.workers);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'concord-loadtest-'));
  const child = new ServiceChild('the platform', 'standalone/src/main.ts', {
    PORT: String(httpPort),
    HOST: '127.0.0.1',
    CONCORD_DATA_DIR: dataDir,
    SFU_RTC_PORT_BASE: String(rtcPortBase),
    SFU_WORKERS: String(options.workers),
    ...LIFTED_LIMITS,
    LOG_LEVEL: 'warn',
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const target: Target = {
    url,
    signalingUrl: url,
    description: `standalone launcher as a child process (SFU_WORKERS=${options.workers})`,
    processes: () => sfuProcessesBelow(child.pid),
    stop: () => child.stop().finally(() => rmSync(dataDir, { recursive: true, force: true })),
  };
  try {
    await child.waitReady(async () => (await fetch(`${url}/api/health`)).ok && child.output.includes('Concord is running'), READY_TIMEOUT_MS);
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
  // Finding the listener reads every process's open files: once, and again only if it went away
  // (every second it cost the generator more CPU than a thousand packets a second).
  let listener: number | undefined;
  return {
    url: parsed.origin,
    signalingUrl: parsed.origin,
    description: `running platform at ${parsed.origin}`,
    processes: () => {
      if (listener === undefined || !existsSync(`/proc/${listener}`)) listener = listeningPid(port);
      return sfuProcessesBelow(listener);
    },
    stop: async () => undefined,
  };
}
