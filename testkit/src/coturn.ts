import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killGroup } from './browser';
import { freePortBase } from './ports';
import { waitUntil } from './wait';

/*
 * A real coturn (Debian's `coturn`, installed by `npm run setup -- --test`) on 127.0.0.1 with the
 * TURN REST scheme (`use-auth-secret`), as docker/coturn/turnserver.conf configures it, but
 * relaying to loopback peers: our SFU is on 127.0.0.1, which coturn refuses to relay to unless told.
 */

export const TURNSERVER = '/usr/bin/turnserver';

export interface Coturn {
  /** Its UDP and TCP listening port on 127.0.0.1. */
  port: number;
  /** turn: URLs over UDP and TCP, as TURN_URLS takes them. */
  urls: string[];
  /** Its verbose log so far. */
  output(): string;
  /** Allocations coturn granted (successful ALLOCATE requests) so far. */
  allocations(): number;
  stop(): Promise<void>;
}

export async function startCoturn(secret: string): Promise<Coturn> {
  if (!fs.existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} is missing: install Debian's coturn (npm run setup -- --test)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-coturn-'));
  // The listening port, then a range of relay ports right above it.
  const port = await freePortBase(41);
  const logFile = path.join(dir, 'turnserver.log');
  const child = spawn(
    TURNSERVER,
    [
      '-n', // no config file: only these options
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${port + 1}`,
      `--max-port=${port + 40}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=concord.test',
      '--allow-loopback-peers',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-software-attribute',
      `--userdb=${path.join(dir, 'turndb')}`,
      `--pidfile=${path.join(dir, 'turnserver.pid')}`,
      // A file, not stdout: coturn buffers a piped stdout, so the session lines would come late.
      `--log-file=${logFile}`,
      '--simple-log',
      '--verbose',
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let console = '';
  child.stdout?.on('data', (chunk: Buffer) => (console += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (console += chunk.toString()));
  const output = (): string => `${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}${console}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child.pid, 'SIGTERM');
      const hardKill = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3_000);
      await exited;
      clearTimeout(hardKill);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('coturn listens on UDP', async () => {
      if (child.exitCode !== null) throw new Error(`coturn exited with ${child.exitCode}:\n${output()}`);
      return output();
    }, (text) => text.includes(`UDP listener opened on: 127.0.0.1:${port}`), 10_000, (text) => text.slice(-2_000));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
    output,
    allocations: () => output().match(/ALLOCATE processed, success/g)?.length ?? 0,
    stop,
  };
}
