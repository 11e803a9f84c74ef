import { createTestDatabase } from '@concord/testkit/src/postgres';
import { signalingConnector } from './client/signaling-control';
import { PacingClock } from './media/clock';
import { loadMediaSet } from './media/media-set';
import { DEFAULT_THRESHOLDS } from './metrics';
import { LoadDriver } from './runner';
import { resolveScenario } from './scenario';
import { PlatformSetup } from './setup';
import { startCluster } from './target/cluster';

/*
 * The cluster target for real: API, one signaling process and two SFU nodes as separate
 * processes on the machine's Redis (under a key prefix of the run's own) and PostgreSQL (a
 * throwaway database: the embedded one takes ~40 s to start on a busy machine), two small meetings
 * through them, every track counted at the clients; then one node killed as a machine failure
 * would, and gone from what the load test measures.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

test('two SFU nodes behind one signaling process carry two meetings, and a node can be killed', async () => {
  const media = await loadMediaSet({ codec: 'vp8', simulcast: false, camera: true, screen: false });
  const clock = new PacingClock();
  const scenario = resolveScenario({ preset: 'meeting', size: 3 }, { rooms: 2, rampPerSecond: 20, durationSeconds: 4 });
  const database = await createTestDatabase();
  const target = await startCluster({ nodes: 2, workers: 1, redisUrl: REDIS_URL, databaseUrl: database.url }).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const setup = new PlatformSetup(target.url);
  const driver = new LoadDriver({
    scenario,
    runId: Math.random().toString(36).slice(2, 6),
    connect: signalingConnector(target.signalingUrl, setup),
    prepare: (plans) => setup.prepare(plans),
    processes: () => target.processes(),
    media,
    clock,
    verifyEvery: 5,
    thresholds: DEFAULT_THRESHOLDS,
  });
  try {
    expect(target.signalingUrl).not.toBe(target.url);
    await driver.addRooms(2);
    const stage = await driver.measure(4);
    expect(stage.join).toMatchObject({ failures: 0, errors: [] });
    // 2 rooms × 3 participants, each receiving the 2 others' mic and camera.
    expect(stage.receive).toMatchObject({ expectedTracks: 24, receivedTracks: 24, missingTracks: 0, srtpFailures: 0 });
    expect(stage.receive.lossPct).toBeLessThan(1);
    // One worker per node, both measured; media went through at least one of them.
    expect(stage.sfu.workers).toHaveLength(2);
    expect(stage.sfu.workerCpuUsPerPacket).toBeGreaterThan(0);
    expect(stage.generator.cpuUsPerPacket).toBeGreaterThan(0);

    await target.killNode(1);
    expect(target.processes().workerPids).toHaveLength(1);
  } finally {
    await driver.stop();
    await target.stop();
    await database.drop();
    clock.stop();
  }
}, 240_000);
