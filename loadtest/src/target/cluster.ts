import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePortBase } from '@concord/testkit/src/ports';
import { deleteKeys } from '@concord/testkit/src/redis';
import { descendantsOf } from './proc';
import { LIFTED_LIMITS, sfuProcessesBelow, type SfuProcesses, type Target } from './platform';
import { ServiceChild } from './service';

export interface ClusterOptions {
  /** SFU nodes, each its own process with its own workers, all behind the one signaling process. */
  nodes: number;
  workers: number;
  redisUrl: string;
  /** PostgreSQL for the API; the embedded database when absent. */
  databaseUrl?: string;
  /** Extra environment of every SFU node (e.g. a placement setting under test). */
  nodeEnv?: Record<string, string>;
}

/** A cluster whose SFU nodes can be told apart and killed. */
export interface ClusterTarget extends Target {
  readonly nodeIds: readonly string[];
  /** SIGKILL to node `index`'s process group (Node and its workers): a machine failing. */
  killNode(index: number): Promise<void>;
}

/** Four services starting at once through tsx (the API's embedded database alone ~40 s on a busy machine). */
const READY_TIMEOUT_MS = 120_000;
/** Each service's ops listener (/readyz) on its own loopback port: how readiness is known. */
const opsEnv = (port: number) => ({ OPS_PORT: String(port), OPS_HOST: '127.0.0.1' });
const readyAt = (port: number) => async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;

/**
 * The platform as deployed, on loopback: one API, one signaling process and N SFU nodes, each a
 * process of its own, sharing a Redis registry under a key prefix of this run's own (removed at
 * the end). Limits are lifted as for the standalone launcher; every node gets `nodeEnv`.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterTarget> {
  const { nodes, workers, redisUrl } = options;
  // Per node: its workers' RTC ports, a control port and an ops port; then API, signaling and their ops ports.
  const perNode = workers + 2;
  const base = await freePortBase(nodes * perNode + 4);
  const apiPort = base + nodes * perNode;
  const signalingPort = apiPort + 1;
  const prefix = `concord-loadtest:${randomBytes(4).toString('hex')}:`;
  const secret = randomBytes(24).toString('hex');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'concord-loadtest-cluster-'));
  const shared = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' };
  const apiUrl = `http://127.0.0.1:${apiPort}`;

  const api = new ServiceChild('the API', 'api/src/main.ts', {
    ...shared,
    ...opsEnv(apiPort + 2),
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    CONCORD_DATA_DIR: dataDir,
    ...(options.databaseUrl && { DATABASE_URL: options.databaseUrl }),
    AUTH_RATE_LIMIT: LIFTED_LIMITS.AUTH_RATE_LIMIT,
  });
  const nodeIds = Array.from({ length: nodes }, (_, i) => `loadtest-sfu-${i + 1}`);
  const sfus = nodeIds.map((id, i) => {
    const first = base + i * perNode;
    return new ServiceChild(id, 'sfu/src/main.ts', {
      ...shared,
      ...opsEnv(first + workers + 1),
      SFU_NODE_ID: id,
      SFU_WORKERS: String(workers),
      SFU_RTC_PORT_BASE: String(first),
      SFU_LISTEN_IP: '127.0.0.1',
      SFU_CONTROL_PORT: String(first + workers),
      SFU_CONTROL_HOST: '127.0.0.1',
      SFU_SECRET: secret,
      SFU_CAPACITY: LIFTED_LIMITS.SFU_CAPACITY,
      ...options.nodeEnv,
    });
  });
  const signaling = new ServiceChild('signaling', 'signaling/src/main.ts', {
    ...shared,
    ...opsEnv(apiPort + 3),
    SIGNALING_HOST: '127.0.0.1',
    SIGNALING_PORT: String(signalingPort),
    API_JWKS_URL: `${apiUrl}/api/.well-known/jwks.json`,
    SFU_SECRET: secret,
  });

  const processes = (): SfuProcesses => {
    const below = sfus.map((sfu) => sfuProcessesBelow(sfu.pid));
    // Every SFU node's workers; the Node processes (of the nodes, API and signaling) are the platform's others.
    return {
      nodePid: undefined,
      workerPids: below.flatMap((node) => node.workerPids),
      otherPids: [
        ...below.flatMap((node) => [...(node.nodePid === undefined ? [] : [node.nodePid]), ...node.otherPids]),
        ...[api, signaling].flatMap((service) => (service.pid === undefined ? [] : [service.pid, ...descendantsOf(service.pid)])),
      ],
    };
  };
  const target: ClusterTarget = {
    url: apiUrl,
    signalingUrl: `http://127.0.0.1:${signalingPort}`,
    description: `cluster: ${nodes} SFU node${nodes === 1 ? '' : 's'} (SFU_WORKERS=${workers} each${options.nodeEnv && Object.keys(options.nodeEnv).length > 0 ? `, ${Object.entries(options.nodeEnv).map(([key, value]) => `${key}=${value}`).join(' ')}` : ''}) behind one signaling process, API and Redis registry as separate processes`,
    nodeIds,
    processes,
    killNode: async (index) => {
      const sfu = sfus[index];
      if (!sfu) throw new Error(`there is no SFU node ${index + 1} of ${nodes}`);
      await sfu.kill();
    },
    stop: async () => {
      // Signaling first, so that it does not re-place rooms on the nodes stopping after it.
      await signaling.stop();
      await Promise.all([api, ...sfus].map((service) => service.stop()));
      rmSync(dataDir, { recursive: true, force: true });
      await deleteKeys(prefix, redisUrl).catch(() => undefined);
    },
  };
  try {
    await Promise.all([
      api.waitReady(readyAt(apiPort + 2), READY_TIMEOUT_MS),
      ...sfus.map((sfu, i) => sfu.waitReady(readyAt(base + i * perNode + workers + 1), READY_TIMEOUT_MS)),
      signaling.waitReady(readyAt(apiPort + 3), READY_TIMEOUT_MS),
    ]);
  } catch (error) {
    await target.stop();
    throw error;
  }
  return target;
}
