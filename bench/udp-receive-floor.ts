/**
 * Node's own cost per received UDP datagram, the floor under the load generator's CPU per
 * forwarded packet (docs/benchmarks.md, "Scale-out"): --sockets loopback sockets receive --rate
 * datagrams a second in all (1,100 bytes, from a child process so its sends are not counted), and
 * this process's CPU time over --seconds is divided by the datagrams received.
 *
 *   --mode dgram  one empty 'message' listener per socket (what any dgram receiver pays)
 *   --mode poll   libuv's reading stopped; every --tick ms each socket is drained with
 *                 fs.readSync into one buffer until EAGAIN (no buffer, address object or
 *                 callback per datagram, but arrival times only to the tick)
 *
 *   npm run bench:udp-floor -- --mode dgram --sockets 40 --rate 13000
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { integerOption, parseCommandLine, runCli, UsageError } from '../scripts/cli';

const USAGE = `npm run bench:udp-floor -- [options]
  --mode dgram|poll  an empty 'message' listener per socket, or fs.readSync polling (default dgram)
  --sockets N        receiving loopback sockets (default 40)
  --rate N           datagrams a second in all (default 13000)
  --seconds N        measured time (default 8)
  --tick N           with --mode poll: ms between drains (default 10)
`;

const DATAGRAM_BYTES = 1_100;
const SEND_INTERVAL_MS = 10;

if (process.argv[2] === '--send') send(process.argv[3]!.split(',').map(Number), Number(process.argv[4]));
else runCli('bench:udp-floor', USAGE, main);

function send(ports: number[], rate: number): void {
  const socket = dgram.createSocket('udp4');
  const datagram = Buffer.alloc(DATAGRAM_BYTES, 0x80);
  let next = 0;
  setInterval(() => {
    for (let i = 0; i < (rate * SEND_INTERVAL_MS) / 1000; i++) socket.send(datagram, ports[next++ % ports.length], '127.0.0.1');
  }, SEND_INTERVAL_MS);
}

async function main(args: string[]): Promise<void> {
  const { values } = parseCommandLine({
    args,
    options: {
      mode: { type: 'string', default: 'dgram' },
      sockets: { type: 'string', default: '40' },
      rate: { type: 'string', default: '13000' },
      seconds: { type: 'string', default: '8' },
      tick: { type: 'string', default: '10' },
    },
  });
  if (values.mode !== 'dgram' && values.mode !== 'poll') throw new UsageError(`--mode is dgram or poll, got "${values.mode}"`);
  for (const [name, max] of [['sockets', 1_000], ['rate', 1_000_000], ['seconds', 600], ['tick', 1_000]] as const) integerOption(name, values[name], 1, max);
  const sockets: dgram.Socket[] = [];
  for (let i = 0; i < Number(values.sockets); i++) {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push(socket);
  }
  let received = 0;
  if (values.mode === 'dgram') {
    for (const socket of sockets) socket.on('message', () => received++);
  } else {
    const buffer = Buffer.allocUnsafe(2_048);
    const fds = sockets.map(stopReading);
    setInterval(() => {
      for (const fd of fds) {
        for (;;) {
          try {
            fs.readSync(fd, buffer, 0, buffer.length, null);
          } catch {
            break; // EAGAIN: drained
          }
          received++;
        }
      }
    }, Number(values.tick));
  }
  const sender = fork(__filename, ['--send', sockets.map((socket) => socket.address().port).join(','), String(values.rate)]);
  await sleep(1_500);
  const cpuBefore = process.cpuUsage();
  const [receivedBefore, startedAt] = [received, performance.now()];
  await sleep(Number(values.seconds) * 1_000);
  const cpu = process.cpuUsage(cpuBefore);
  const count = received - receivedBefore;
  const perSecond = Math.round(count / ((performance.now() - startedAt) / 1_000));
  console.log(
    `${values.mode}${values.mode === 'poll' ? ` (${values.tick} ms)` : ''}, ${sockets.length} sockets, ${perSecond} datagrams/s: ` +
      `${((cpu.user + cpu.system) / count).toFixed(2)} µs a datagram (user ${(cpu.user / count).toFixed(2)}, system ${(cpu.system / count).toFixed(2)})`,
  );
  sender.kill();
}

/** dgram keeps the libuv handle (and its fd) behind a symbol; stopping its reads leaves the fd to us. */
function stopReading(socket: dgram.Socket): number {
  const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  const handle = (socket as unknown as Record<symbol, { handle: { recvStop(): void; fd: number } }>)[state!]!.handle;
  handle.recvStop();
  return handle.fd;
}
