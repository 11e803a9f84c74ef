import { describeScenario } from '../scenario';
import type { Distribution, LoadTestResult, RunLabel, StageResult, TargetRun } from '../result';
import { escapeXml as esc, lineChart, type Series } from './svg';

/**
 * The self-contained HTML report: summary, stage table and SVG charts in one file with inline
 * styles and no script, so it opens from disk, attaches to an issue, and survives in `docs/`.
 */

const COLORS = { platform: '#2563eb', baseline: '#ea580c', piped: '#0891b2', 'one node': '#64748b', node: '#16a34a', generator: '#9333ea' } as const;
const SERIES_NAMES: Record<RunLabel, string> = { platform: 'Concord', baseline: 'bare mediasoup', piped: 'Concord, piped', 'one node': 'Concord, one node' };

const pct = (fraction: number): string => `${(fraction * 100).toFixed(0)}%`;
const fixed = (value: number, digits = 0): string => value.toFixed(digits);
const mb = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MiB`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const busiest = (stage: StageResult): number => Math.max(0, ...stage.sfu.workers.map((worker) => worker.cpu));
const dist = (d: Distribution): string => (d.count ? `${fixed(d.p50)} / ${fixed(d.p95)} / ${fixed(d.p99)}` : '—');

export function renderReport(result: LoadTestResult): string {
  const platform = result.runs.find((run) => run.label === 'platform');
  const baseline = result.runs.find((run) => run.label === 'baseline');
  const title = `Concord SFU load test — ${result.scenario.name}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#111}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#555}.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}.warn{color:#a16207;font-weight:600}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 5px;text-align:right;white-space:nowrap}
th{background:#f4f4f5;white-space:normal;vertical-align:bottom}td:first-child,th:first-child{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:200px}
.card b{display:block;font-size:20px}.charts{display:flex;flex-wrap:wrap;gap:8px}
svg{background:#fff;border:1px solid #eee}svg .title{font-weight:600;font-size:13px}svg .tick,svg .legend{font-size:11px;fill:#444}
svg .axis{font-size:11.5px;fill:#222}svg .grid{stroke:#eee}svg .limit{stroke:#b91c1c;stroke-dasharray:5 4}svg .limit-label{font-size:10.5px;fill:#b91c1c}
code{background:#f4f4f5;padding:1px 4px;border-radius:3px}
</style></head><body>
<h1>${esc(title)}</h1>
<div class="muted">${esc(describeScenario(result.scenario))} · ${esc(result.startedAt)}</div>
<p><code>${esc(result.command)}</code></p>
${headline(result, platform, baseline)}
<h2>Machine and target</h2>
<table><tbody>
<tr><td>machine</td><td>${result.machine.cpus} × ${esc(result.machine.cpuModel)}, ${mb(result.machine.memoryBytes)} RAM, ${esc(result.machine.platform)}, Node ${esc(result.machine.node)}</td></tr>
<tr><td>load average before</td><td>${result.machine.loadAverageBefore.toFixed(2)}${result.machine.loadAverageBefore > 1.5 ? ' <span class="warn">(busy machine: CPU numbers are noisy)</span>' : ''}</td></tr>
${result.runs.map((run) => `<tr><td>${run.label}</td><td>${esc(run.description)}</td></tr>`).join('')}
<tr><td>SFU workers</td><td>${result.workers} (numbers per worker are per core)</td></tr>
<tr><td>thresholds</td><td>loss ≤ ${result.thresholds.maxLossPct}%, worker CPU ≤ ${pct(result.thresholds.maxWorkerCpu)}, join p95 ≤ ${result.thresholds.maxJoinP95Ms} ms, missing tracks ≤ ${result.thresholds.maxMissingTracksPct}%</td></tr>
<tr><td>SRTP verification</td><td>every ${result.verifyEvery}. received packet decrypted and authenticated; headers of all read</td></tr>
</tbody></table>
<h2>Stages</h2>
${stageTable(result.runs)}
<h2>Load against cost</h2>
<div class="charts">${loadCharts(result)}</div>
<h2>Over time</h2>
<div class="charts">${timeCharts(result.runs)}</div>
<h2>Join times (ms, p50 / p95 / p99 from each participant's start)</h2>
${joinTable(result.runs)}
${browserTable(result.runs)}
<h2>How to read this</h2>
<ul class="muted">
<li>Consumers are tracks received (one per subscriber and remote track); with one SFU worker they all sit on it, so consumers per worker core is the capacity figure.</li>
<li>Loss counts RTP sequence numbers never received, after NACK retransmissions; jitter is RFC 3550 interarrival jitter; a freeze is a gap of more than 500 ms in a video track. UDP drops are datagrams the kernel discarded at a full socket receive buffer — at the SFU's sockets or at the clients' — which says where loss on loopback came from.</li>
<li>Node CPU is the platform's Node process that owns the workers (in the standalone launcher also API and signaling); in parentheses the platform's other processes (the launcher, the embedded database).</li>
<li>µs/packet is the worker's CPU time per packet it forwarded to a subscriber; memory per consumer is what the load added since before it, divided by consumers.</li>
<li>Others' load is the CPU the rest of the machine used meanwhile (other people's work on a shared machine), in cores. Above 0.3 a stage is disturbed: its join times are shown but not judged, and a search measures a breaking window again.</li>
<li>The load generator shares the machine. A stage marked <span class="warn">generator-bound</span> had the generator above 85% of a core while measuring (95% while joining), its event loop lagging, its sockets dropping, or its ICE consent checks failing: there the knee is a lower bound, and the CPU-extrapolated figure (from the measured linear cost) is the better estimate.</li>
</ul>
</body></html>
`;
}

function headline(result: LoadTestResult, platform?: TargetRun, baseline?: TargetRun): string {
  const cards: string[] = [];
  const knee = platform?.knee;
  if (knee) {
    cards.push(
      knee.stage
        ? card('consumers per worker core at the knee', `${fixed(knee.consumersPerWorkerCore ?? 0)}${knee.lowerBound ? ' +' : ''}`, knee.reason)
        : card('knee', 'none', knee.reason),
    );
    if (knee.extrapolatedConsumersAtCpuLimit) cards.push(card(`extrapolated to ${pct(result.thresholds.maxWorkerCpu)} worker CPU`, fixed(knee.extrapolatedConsumersAtCpuLimit), 'consumers per worker core, linear in the measured CPU'));
  }
  const last = knee?.stage ?? platform?.stages.at(-1);
  if (last) {
    cards.push(card('loss', `${last.receive.lossPct.toFixed(2)}%`, `${last.receive.receivedTracks}/${last.receive.expectedTracks} tracks received`));
    cards.push(card('join p95', `${fixed(last.join.transportsMs.p95)} ms`, 'to transports connected'));
    cards.push(card('worker CPU', pct(busiest(last)), `${last.sfu.workerCpuUsPerPacket.toFixed(1)} µs per forwarded packet`));
  }
  if (result.ratios && baseline) {
    const r = result.ratios;
    cards.push(
      card(
        'platform / bare mediasoup',
        `×${r.workerCpu.toFixed(2)} CPU`,
        `at ${r.consumers} consumers: ×${r.workerCpuPerPacket.toFixed(2)} per packet, ×${r.joinP95.toFixed(2)} join p95 (loss ${r.lossPct.platform.toFixed(2)}% / ${r.lossPct.baseline.toFixed(2)}%)`,
      ),
    );
  }
  if (result.pipe) {
    const { workerCpuUsPerPacket: perPacket, rooms } = result.pipe;
    cards.push(card('piped / one router', `×${perPacket.ratio.toFixed(2)}`, `worker CPU per forwarded packet at ${rooms} rooms: ${perPacket.piped.toFixed(1)} against ${perPacket.oneRouter.toFixed(1)} µs`));
  }
  if (result.scaleOut) {
    const { nodes, kneeConsumers, lowerBound } = result.scaleOut;
    cards.push(card(`${nodes} nodes / 1 node`, `×${kneeConsumers.ratio.toFixed(2)}${lowerBound ? ' +' : ''}`, `consumers at the knee: ${kneeConsumers.nodes} against ${kneeConsumers.oneNode}`));
  }
  return `<div class="cards">${cards.join('')}</div>`;
}

const card = (label: string, value: string, note: string): string => `<div class="card"><span class="muted">${esc(label)}</span><b>${esc(value)}</b><span class="muted">${esc(note)}</span></div>`;

function stageTable(runs: readonly TargetRun[]): string {
  const head = ['run', 'rooms', 'participants', 'consumers', 'tracks', 'rx Mb/s (expected)', 'loss %', 'UDP drops SFU · clients', 'jitter ms (p95)', 'freezes', 'NACK / PLI sent', 'worker CPU', 'node CPU (others)', 'µs/packet', 'RSS/consumer (worker · node)', 'generator CPU (µs/packet)', 'others\' load (cores) measuring · joining', 'verdict'];
  const rows = runs.flatMap((run) =>
    run.stages.map((s) => {
      const verdict = s.breaches.length ? `<span class="bad">${esc(s.breaches.join('; '))}</span>` : '<span class="ok">pass</span>';
      return `<tr><td>${run.label}${run.knee?.stage === s ? ' (knee)' : ''}</td><td>${s.rooms}</td><td>${s.participants}</td><td>${s.consumers}</td>
<td>${s.receive.receivedTracks}/${s.receive.expectedTracks}</td><td>${fixed(s.receive.receivedKbps / 1000, 1)} (${fixed(s.receive.expectedKbps / 1000, 1)})</td>
<td>${s.receive.lossPct.toFixed(2)}</td><td>${s.sfu.udpDrops} · ${s.generator.udpDrops}</td><td>${s.receive.jitterMs.mean.toFixed(1)} (${s.receive.jitterMs.p95.toFixed(1)})</td><td>${s.receive.freezes}</td>
<td>${s.receive.nacksSent} / ${s.receive.plisSent}</td><td>${pct(busiest(s))}</td><td>${s.sfu.node ? pct(s.sfu.node.cpu) : '—'}${s.sfu.others ? ` (${pct(s.sfu.others.cpu)})` : ''}</td><td>${s.sfu.workerCpuUsPerPacket.toFixed(1)}</td>
<td>${kb(s.sfu.workerRssPerConsumer)} · ${s.sfu.nodeRssPerConsumer === undefined ? '—' : kb(s.sfu.nodeRssPerConsumer)}</td>
<td>${pct(s.generator.cpu)} (${s.generator.cpuUsPerPacket.toFixed(1)})${s.generatorLimits.length ? ` <span class="warn" title="${esc(s.generatorLimits.join('; '))}">generator-bound</span>` : ''}</td>
<td>${s.foreignCpu.measuring.toFixed(2)} · ${s.foreignCpu.joining.toFixed(2)}</td><td>${verdict}</td></tr>`;
    }),
  );
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function joinTable(runs: readonly TargetRun[]): string {
  const head = ['run', 'rooms', 'joined (failed)', 'signaling connected', 'voice:join answered', 'transports connected', 'consumer → first RTP', 'first decoded frame (browsers)'];
  const rows = runs.flatMap((run) =>
    run.stages.map(
      (s) => `<tr><td>${run.label}</td><td>${s.rooms}</td><td>${s.join.transportsMs.count} (${s.join.failures})</td><td>${dist(s.join.connectMs)}</td><td>${dist(s.join.joinedMs)}</td>
<td>${dist(s.join.transportsMs)}</td><td>${dist(s.join.firstRtpMs)}</td><td>${s.join.firstFrameMs ? dist(s.join.firstFrameMs) : '—'}</td></tr>` +
        (s.join.errors.length ? `<tr><td colspan="8" class="bad">${esc(s.join.errors.join(' · '))}</td></tr>` : ''),
    ),
  );
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function browserTable(runs: readonly TargetRun[]): string {
  const rows = runs.flatMap((run) =>
    run.stages.flatMap((s) =>
      s.browsers
        ? [`<tr><td>${run.label}</td><td>${s.rooms}</td><td>${s.browsers.connected}/${s.browsers.count}</td><td>${s.join.firstFrameMs ? dist(s.join.firstFrameMs) : '—'}</td>
<td>${dist(s.browsers.framesDecodedPerSecond)}</td><td>${dist(s.browsers.videoPacketsPerSecond)}</td><td>${dist(s.browsers.audioPacketsPerSecond)}</td><td class="bad">${esc(s.browsers.errors.join(' · '))}</td></tr>`]
        : [],
    ),
  );
  if (rows.length === 0) return '';
  const head = ['run', 'rooms', 'in a call', 'first decoded frame ms', 'frames decoded/s', 'video packets/s', 'audio packets/s', 'errors'];
  return `<h2>Browsers (headless Chromium in the first room; p50 / p95 / p99)</h2>
<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function loadCharts(result: LoadTestResult): string {
  const series = (pick: (stage: StageResult) => number): Series[] =>
    result.runs.map((run) => ({ name: SERIES_NAMES[run.label], color: COLORS[run.label], points: run.stages.map((s) => [s.consumers, pick(s)] as const) }));
  const { thresholds } = result;
  return [
    lineChart({ title: 'Worker CPU', xLabel: 'consumers', yLabel: '% of a core', series: series((s) => busiest(s) * 100), limits: [{ y: thresholds.maxWorkerCpu * 100, label: 'limit' }], yMin: 10 }),
    lineChart({ title: 'Packet loss', xLabel: 'consumers', yLabel: '%', series: series((s) => s.receive.lossPct), limits: [{ y: thresholds.maxLossPct, label: 'limit' }] }),
    lineChart({ title: 'Join time p95 (to transports connected)', xLabel: 'consumers', yLabel: 'ms', series: series((s) => s.join.transportsMs.p95), limits: [{ y: thresholds.maxJoinP95Ms, label: 'limit' }] }),
    lineChart({ title: 'Worker CPU per forwarded packet', xLabel: 'consumers', yLabel: 'µs', series: series((s) => s.sfu.workerCpuUsPerPacket) }),
  ].join('');
}

function timeCharts(runs: readonly TargetRun[]): string {
  return runs
    .map((run) => {
      const at = (pick: (t: TargetRun['samples'][number]) => number) => run.samples.map((s) => [s.t, pick(s)] as const);
      const cpu: Series[] = [
        { name: 'worker', color: COLORS[run.label], points: at((s) => s.workerCpu * 100) },
        ...(run.label !== 'baseline' ? [{ name: 'platform process', color: COLORS.node, points: at((s) => s.nodeCpu * 100) }] : []),
        { name: 'load generator', color: COLORS.generator, points: at((s) => s.generatorCpu * 100) },
      ];
      return (
        lineChart({ title: `${run.label}: CPU`, xLabel: 'seconds', yLabel: '% of a core', series: cpu, yMin: 10 }) +
        lineChart({ title: `${run.label}: received and load`, xLabel: 'seconds', yLabel: 'Mb/s · consumers/10', series: [
          { name: 'received Mb/s', color: COLORS[run.label], points: at((s) => s.receivedKbps / 1000) },
          { name: 'consumers / 10', color: COLORS.node, points: at((s) => s.consumers / 10) },
        ] }) +
        lineChart({ title: `${run.label}: packet loss`, xLabel: 'seconds', yLabel: '%', series: [{ name: 'loss', color: COLORS[run.label], points: at((s) => s.lossPct) }] })
      );
    })
    .join('');
}
