import os from 'node:os';
import type { Machine } from './result';

/** The machine the numbers were measured on, and how busy it was before. */
export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverageBefore: os.loadavg()[0] ?? 0,
  };
}
