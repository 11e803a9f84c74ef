import type { Sample, StageResult } from './result';

const pct = (fraction: number): string => `${Math.round(fraction * 100)}%`;
const mbps = (kbps: number): string => `${(kbps / 1000).toFixed(1)} Mb/s`;

/**
 * The live view: on a terminal one status line rewritten every second, elsewhere (CI logs) a
 * line every few seconds; stage summaries stay on screen.
 */
/** Where progress goes: a terminal, a log, or nowhere (tests). */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  #lastPlainAt = -Infinity;
  #statusShown = false;

  constructor(out: ProgressSink = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  sample(label: string, s: Sample): void {
    const line =
      `[${label} ${s.t.toFixed(0).padStart(4)}s] ${s.joined}/${s.participants} joined${s.failed ? ` (${s.failed} failed)` : ''}${s.transportsLost ? `, ${s.transportsLost} transports lost` : ''}` +
      ` · ${s.consumers} consumers · rx ${mbps(s.receivedKbps)} · loss ${s.lossPct.toFixed(2)}%` +
      ` · worker ${pct(s.workerCpu)}${s.nodeCpu ? ` · node ${pct(s.nodeCpu)}` : ''} · generator ${pct(s.generatorCpu)}`;
    if (this.#tty) {
      this.#out.write(`\r\x1b[K${line}`);
      this.#statusShown = true;
    } else if (s.t - this.#lastPlainAt >= 5) {
      this.#lastPlainAt = s.t;
      this.#out.write(`${line}\n`);
    }
  }

  note(text: string): void {
    if (this.#statusShown) this.#out.write('\r\x1b[K');
    this.#statusShown = false;
    this.#out.write(`${text}\n`);
  }

  stage(label: string, stage: StageResult): void {
    const worker = Math.max(0, ...stage.sfu.workers.map((w) => w.cpu));
    this.note(
      `${label}: ${stage.rooms} rooms, ${stage.participants} participants, ${stage.consumers} consumers — ` +
        `tracks ${stage.receive.receivedTracks}/${stage.receive.expectedTracks}, rx ${mbps(stage.receive.receivedKbps)} of ${mbps(stage.receive.expectedKbps)}, ` +
        `loss ${stage.receive.lossPct.toFixed(2)}%, join p95 ${stage.join.transportsMs.p95.toFixed(0)} ms, worker ${pct(worker)}, ` +
        `${stage.sfu.workerCpuUsPerPacket.toFixed(1)} µs/packet, generator ${pct(stage.generator.cpu)} (${stage.generator.cpuUsPerPacket.toFixed(1)} µs/packet), others' load ${stage.foreignCpu.measuring.toFixed(1)} cores` +
        (stage.browsers ? `, browsers ${stage.browsers.connected}/${stage.browsers.count} in call, first frame p50 ${stage.join.firstFrameMs?.p50.toFixed(0) ?? '—'} ms, ${stage.browsers.framesDecodedPerSecond.p50.toFixed(0)} frames/s` : '') +
        (stage.breaches.length ? ` — BREACH: ${stage.breaches.join('; ')}` : ' — ok') +
        (stage.generatorLimits.length ? ` (generator-bound: ${stage.generatorLimits.join('; ')})` : ''),
    );
  }
}
