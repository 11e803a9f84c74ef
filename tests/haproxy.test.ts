import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '@concord/testkit/src/wait';

/*
 * docker/haproxy/haproxy.cfg, the documented alternative to nginx: Debian's haproxy checks it, then
 * runs it on loopback in front of real HTTP backends standing in for two APIs, two signaling
 * processes (each with its ops listener's /readyz) and the web server — round robin, a server
 * whose /readyz fails left out, the sticky cookie, WebSocket upgrades, 413 and 400 refusals.
 * (haproxy comes from `npm run setup -- --test`.)
 */

const CONFIG = path.resolve(__dirname, '../docker/haproxy/haproxy.cfg');
const execFileAsync = promisify(execFile);

/** A backend: answers with its name, echoes a WebSocket's bytes, and has an ops /readyz that can be turned off. */
class Backend {
  ready = true;
  readonly name: string;
  readonly server: http.Server;
  readonly ops: http.Server;

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ server: name, path: req.url }));
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      // RFC 6455's answer to the key: HAProxy checks it.
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
    });
    this.ops = http.createServer((req, res) => {
      res.writeHead(req.url === '/readyz' && this.ready ? 200 : 503).end();
    });
  }

  async listen(port: number, opsPort?: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    if (opsPort !== undefined) await new Promise<void>((resolve) => this.ops.listen(opsPort, '127.0.0.1', resolve));
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
    this.ops.close();
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

type Reply = { status: number; headers: IncomingHttpHeaders; body: string };

let haproxy: ChildProcess | undefined;
let output = '';
let workDir = '';
let base = '';
const backends = new Map<string, Backend>();

function request(method: string, route: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${route}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const servedBy = async (route: string, headers: Record<string, string> = {}): Promise<string> => (JSON.parse((await request('GET', route, headers)).body) as { server: string }).server;

beforeAll(async () => {
  const check = await execFileAsync('haproxy', ['-c', '-f', CONFIG]);
  expect(check.stdout + check.stderr).toContain('Configuration file is valid');

  // The shipped file on free ports (each port of the file to one of its own), with quicker checks.
  const config = await readFile(CONFIG, 'utf8');
  const ports = new Map<string, number>();
  for (const [, port] of config.matchAll(/(?:127\.0\.0\.1:|check port )(\d+)/g)) if (!ports.has(port!)) ports.set(port!, await freePort());
  const local = config
    .replace(/(127\.0\.0\.1:|check port )(\d+)/g, (_all, prefix: string, port: string) => `${prefix}${ports.get(port)}`)
    .replace('inter 2s fall 2 rise 2', 'inter 200ms fall 2 rise 1');
  const at = (port: number): number => ports.get(String(port))!;
  for (const [name, port, opsPort] of [
    ['api-1', 3101, 9111],
    ['api-2', 3102, 9112],
    ['signaling-1', 3201, 9121],
    ['signaling-2', 3202, 9122],
    ['web-1', 8090, undefined],
  ] as const) {
    const backend = new Backend(name);
    await backend.listen(at(port), opsPort === undefined ? undefined : at(opsPort));
    backends.set(name, backend);
  }
  workDir = await mkdtemp(path.join(os.tmpdir(), 'concord-haproxy-'));
  await writeFile(path.join(workDir, 'haproxy.cfg'), local);
  base = `http://127.0.0.1:${at(8080)}`;
  haproxy = spawn('haproxy', ['-db', '-f', path.join(workDir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  haproxy.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Up once both APIs have answered through it.
  const seen = new Set<string>();
  await eventually(async () => {
    seen.add(await servedBy('/api/ping').catch(() => ''));
    return seen.has('api-1') && seen.has('api-2');
  }, 10_000, 'haproxy in front of both APIs').catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
});

afterAll(async () => {
  haproxy?.kill('SIGTERM');
  if (haproxy && haproxy.exitCode === null) await new Promise((resolve) => haproxy!.once('exit', resolve));
  for (const backend of backends.values()) backend.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('/api/ goes round robin, and an API whose /readyz fails gets nothing until it is ready again', async () => {
  const first = await Promise.all([0, 1, 2, 3].map(() => servedBy('/api/x')));
  expect(first.filter((name) => name === 'api-1')).toHaveLength(2);
  expect(first.filter((name) => name === 'api-2')).toHaveLength(2);

  backends.get('api-2')!.ready = false;
  await eventually(async () => (await Promise.all([0, 1, 2, 3].map(() => servedBy('/api/x')))).every((name) => name === 'api-1'), 5_000, 'api-2 left out');
  for (let i = 0; i < 6; i++) expect(await servedBy('/api/x')).toBe('api-1');

  backends.get('api-2')!.ready = true;
  await eventually(async () => (await Promise.all([0, 1, 2, 3].map(() => servedBy('/api/x')))).includes('api-2'), 5_000, 'api-2 back');
});

test('/socket.io/ sticks to the instance its cookie names; / is the web server', async () => {
  const first = await request('GET', '/socket.io/?EIO=4&transport=polling');
  const cookie = /concord_signaling=(s[12])/.exec(String(first.headers['set-cookie']))?.[1];
  expect(cookie).toBeDefined();
  expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly/i);
  const holder = (JSON.parse(first.body) as { server: string }).server;
  expect(holder).toBe(cookie === 's1' ? 'signaling-1' : 'signaling-2');
  for (let i = 0; i < 6; i++) expect(await servedBy('/socket.io/?EIO=4&transport=polling', { cookie: `concord_signaling=${cookie}` })).toBe(holder);
  // Without the cookie, new sessions spread over both.
  const fresh = new Set(await Promise.all([0, 1, 2, 3].map(() => servedBy('/socket.io/?EIO=4&transport=polling'))));
  expect(fresh).toEqual(new Set(['signaling-1', 'signaling-2']));
  expect(await servedBy('/channels/123')).toBe('web-1');
});

test('a WebSocket upgrade on /socket.io/ goes through; other upgrades are 400 and oversized bodies 413', async () => {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: concord\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await eventually(() => received.includes('\r\n\r\n'), 5_000, 'the upgrade answer');
  expect(received).toMatch(/^HTTP\/1\.1 101/);
  socket.write('hello');
  await eventually(() => /signaling-[12]:hello/.test(received), 5_000, 'the echo through the tunnel');
  socket.destroy();

  expect((await request('GET', '/socket.io/?EIO=4', { connection: 'Upgrade', upgrade: 'h2c' })).status).toBe(400);
  const big = await request('POST', '/api/channels/1/messages', { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) }, '').catch(
    (error: Error) => ({ status: -1, body: error.message }) as Reply,
  );
  expect(big.status).toBe(413);
  expect((await request('POST', '/api/x', { 'content-type': 'application/json' }, JSON.stringify({ content: 'small' }))).status).toBe(200);
});
