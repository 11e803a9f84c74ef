import type { Distribution, LoadTestResult, StageResult } from '../result';
import { resolveScenario } from '../scenario';
import { DEFAULT_THRESHOLDS } from '../metrics';
import { renderReport } from './html';
import { lineChart } from './svg';

const dist = (p50: number): Distribution => ({ count: 10, min: p50 / 2, p50, p95: p50 * 1.5, p99: p50 * 2, max: p50 * 2 });

function stage(rooms: number, cpu: number, breaches: string[] = []): StageResult {
  return {
    rooms,
    participants: rooms * 4,
    consumers: rooms * 24,
    producers: rooms * 8,
    windowSeconds: 10,
    join: { connectMs: dist(20), joinedMs: dist(60), transportsMs: dist(300), firstRtpMs: dist(30), failures: 0, errors: [] },
    receive: {
      expectedTracks: rooms * 24,
      receivedTracks: rooms * 24,
      missingTracks: 0,
      expectedKbps: rooms * 7500,
      receivedKbps: rooms * 7400,
      perSubscriberKbps: dist(1900),
      lossPct: breaches.length ? 2 : 0,
      jitterMs: { mean: 1, p95: 2 },
      freezes: 0,
      freezeSeconds: 0,
      nacksSent: 0,
      nackedPackets: 0,
      plisSent: 0,
      srtpVerified: 100,
      srtpFailures: 0,
      transportsLost: 0,
      transportsLostWhy: [],
    },
    publish: { packetsSent: 1000, nacksReceived: 0, packetsRetransmitted: 0, keyframeRequests: 0 },
    sfu: { workers: [{ pid: 1, cpu, rssBytes: 2e7 }], node: { pid: 2, cpu: 0.02, rssBytes: 1e8 }, packetsInPerSecond: 1000, packetsOutPerSecond: 3000, workerCpuUsPerPacket: 7, workerRssPerConsumer: 4096, nodeRssPerConsumer: 0, udpDrops: 0 },
    generator: { cpu: 0.3, eventLoopP99Ms: 20, udpDrops: 0, ramp: { cpu: 0.4, eventLoopP99Ms: 30 } },
    foreignCpu: { measuring: 0.05, joining: 0.1 },
    breaches,
    generatorLimits: [],
  };
}

describe('the HTML report', () => {
  test('is one self-contained page: charts inline, no script, no external resource, no NaN', () => {
    const stages = [stage(2, 0.1), stage(4, 0.2), stage(6, 0.9, ['worker CPU 90% > 85%'])];
    const result: LoadTestResult = {
      version: 1,
      startedAt: '2025-01-01T00:00:00.000Z',
      command: 'npm run loadtest -- --search <script>',
      scenario: resolveScenario({ preset: 'meeting' }, {}),
      thresholds: DEFAULT_THRESHOLDS,
      machine: { cpus: 2, cpuModel: 'test', memoryBytes: 1e9, node: 'v20', platform: 'Linux', loadAverageBefore: 0.2 },
      workers: 1,
      verifyEvery: 100,
      runs: [
        {
          label: 'platform',
          description: 'test',
          stages,
          samples: [0, 1, 2].map((t) => ({ t, participants: 8, joined: 8, failed: 0, transportsLost: 0, consumers: 48, receivedKbps: 15_000, lossPct: 0, workerCpu: 0.1, nodeCpu: 0.01, generatorCpu: 0.2 })),
          knee: { stage: stages[1], reason: 'stage at 6 rooms broke', lowerBound: false, consumersPerWorkerCore: 96, extrapolatedConsumersAtCpuLimit: 408 },
        },
        { label: 'baseline', description: 'bare', stages: [stage(4, 0.18)], samples: [] },
      ],
      ratios: { rooms: 4, consumers: 96, workerCpu: 1.11, workerCpuPerPacket: 1.05, joinP95: 1.8, lossPct: { platform: 0, baseline: 0 } },
    };
    const html = renderReport(result);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(7);
    expect(html).not.toMatch(/<script|src=|href=|@import|url\(/i);
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
    // User-supplied text is escaped.
    expect(html).toContain('--search &lt;script&gt;');
    expect(html).toContain('96');
  });

  test('charts scale to their data and draw limits', () => {
    const svg = lineChart({ title: 'CPU', xLabel: 'consumers', yLabel: '%', series: [{ name: 'a', color: '#000', points: [[0, 10], [100, 50]] }], limits: [{ y: 85, label: 'limit' }] });
    expect(svg).toContain('<polyline');
    expect(svg).toContain('class="limit"');
    expect(svg).not.toMatch(/NaN/);
  });
});
