import type { Distribution, LoadTestResult, RunLabel, StageResult, TargetRun } from '../result';
import { resolveScenario } from '../scenario';
import { DEFAULT_THRESHOLDS } from '../metrics';
import { pipeOf, scaleOutOf, summaryOf } from '../summary';
import { renderReport } from './html';
import { lineChart } from './svg';

const dist = (p50: number): Distribution => ({ count: 10, min: p50 / 2, p50, p95: p50 * 1.5, p99: p50 * 2, max: p50 * 2 });

function stage(rooms: number, cpu: number | number[], breaches: string[] = [], perPacket = { worker: 7, generator: 9 }): StageResult {
  const cpus = typeof cpu === 'number' ? [cpu] : cpu;
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
    sfu: {
      workers: cpus.map((workerCpu, i) => ({ pid: 10 + i, cpu: workerCpu, rssBytes: 2e7 })),
      node: { pid: 2, cpu: 0.02, rssBytes: 1e8 },
      packetsInPerSecond: 1000,
      packetsOutPerSecond: 3000,
      workerCpuUsPerPacket: perPacket.worker,
      workerRssPerConsumer: 4096,
      nodeRssPerConsumer: 0,
      udpDrops: 0,
    },
    generator: { cpu: 0.3, cpuUsPerPacket: perPacket.generator, eventLoopP99Ms: 20, udpDrops: 0, ramp: { cpu: 0.4, eventLoopP99Ms: 30 } },
    foreignCpu: { measuring: 0.05, joining: 0.1 },
    breaches,
    generatorLimits: [],
  };
}

function resultOf(command: string, outcome: Pick<LoadTestResult, 'runs'> & Partial<LoadTestResult>): LoadTestResult {
  return {
    version: 1,
    startedAt: '2025-01-01T00:00:00.000Z',
    command,
    scenario: resolveScenario({ preset: 'meeting' }, {}),
    thresholds: DEFAULT_THRESHOLDS,
    machine: { cpus: 2, cpuModel: 'test', memoryBytes: 1e9, node: 'v20', platform: 'Linux', loadAverageBefore: 0.2 },
    workers: 1,
    verifyEvery: 100,
    ...outcome,
  };
}

describe('the HTML report', () => {
  test('is one self-contained page: charts inline, no script, no external resource, no NaN', () => {
    const stages = [stage(2, 0.1), stage(4, 0.2), stage(6, 0.9, ['worker CPU 90% > 85%'])];
    const result = resultOf('npm run loadtest -- --search <script>', {
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
    });
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

const run = (label: RunLabel, stages: StageResult[], knee?: TargetRun['knee']): TargetRun => ({ label, description: label, stages, samples: [], ...(knee && { knee }) });

describe('the comparisons of a cluster run', () => {
  test('piped / one router: worker CPU per forwarded packet at the most rooms both carried cleanly', () => {
    const runs = [
      run('platform', [stage(2, 0.1), stage(4, 0.2), stage(6, 0.3)]),
      run('piped', [stage(2, [0.08, 0.06], [], { worker: 9.1, generator: 9 }), stage(4, [0.15, 0.12], [], { worker: 9.8, generator: 9 }), stage(6, [0.9, 0.5], ['worker CPU 90% > 85%'])]),
    ];
    const pipe = pipeOf(runs)!;
    expect(pipe).toMatchObject({ rooms: 4, consumers: 96, workerCpuUsPerPacket: { oneRouter: 7, piped: 9.8 }, workerCpu: { oneRouter: [0.2], piped: [0.15, 0.12] } });
    expect(pipe.workerCpuUsPerPacket.ratio).toBeCloseTo(1.4, 5);
    expect(pipeOf([runs[0]!])).toBeUndefined();
  });

  test('scale-out: consumers at the knee of N nodes over one node, with what bounds them', () => {
    const twoNodes = [stage(4, [0.2, 0.2]), stage(8, [0.4, 0.4], [], { worker: 7, generator: 5 })];
    const oneNode = [stage(4, 0.4, [], { worker: 7.5, generator: 5.5 }), stage(6, 0.9, ['worker CPU 90% > 85%'])];
    const runs = [
      run('platform', twoNodes, { stage: twoNodes[1], reason: 'the load generator saturated', lowerBound: true }),
      run('one node', oneNode, { stage: oneNode[0], reason: 'stage at 6 rooms broke', lowerBound: false }),
    ];
    const scaleOut = scaleOutOf(runs, 2)!;
    expect(scaleOut).toEqual({
      nodes: 2,
      kneeConsumers: { nodes: 192, oneNode: 96, ratio: 2 },
      lowerBound: true,
      generatorUsPerPacket: { nodes: 5, oneNode: 5.5 },
      workerCpuUsPerPacket: { nodes: 7, oneNode: 7.5 },
    });
    expect(scaleOutOf([runs[0]!], 2)).toBeUndefined();
  });

  test('the terminal summary and the report say both', () => {
    const runs = [run('platform', [stage(2, 0.1)]), run('piped', [stage(2, [0.06, 0.06], [], { worker: 8.4, generator: 9 })])];
    const result = resultOf('npm run loadtest -- --nodes 2', { runs, pipe: pipeOf(runs)! });
    expect(summaryOf(result)).toContain('piped / one router at 2 rooms (48 consumers): worker CPU per forwarded packet 8.4 / 7.0 µs = ×1.20 (workers 6% + 6% against 10%');
    const html = renderReport(result);
    expect(html).toContain('piped / one router');
    expect(html).toContain('×1.20');
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
  });
});
