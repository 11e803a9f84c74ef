import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import express from 'express';
import { acceptedEncodings } from '../standalone/src/precompressed';
import { webAssets } from '../standalone/src/web-assets';

/*
 * The one-process launcher sends the web build's precompressed assets (`.br`, `.gz` beside each
 * hashed file, written by web/precompress.ts) to browsers that accept them, with the original's
 * type, `Vary: Accept-Encoding`, the immutable caching and the security headers; the plain file
 * otherwise. The build itself writes the twins for the real client.
 */

const WEB_DIST = path.resolve(__dirname, '../web/dist');
const SCRIPT = `export const greeting = ${JSON.stringify('hello, compressed world '.repeat(400))};\n`;
let dist: string;
let server: http.Server;
let base: string;

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** GET without any automatic decompression, so that the bytes on the wire are what we check. */
function get(route: string, acceptEncoding?: string, method = 'GET'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}${route}`, { method, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

beforeAll(async () => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-web-dist-'));
  fs.mkdirSync(path.join(dist, 'assets'));
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
  const script = path.join(dist, 'assets/index-abc123.js');
  fs.writeFileSync(script, SCRIPT);
  fs.writeFileSync(`${script}.br`, zlib.brotliCompressSync(SCRIPT));
  fs.writeFileSync(`${script}.gz`, zlib.gzipSync(SCRIPT));
  // A stylesheet with only a gzip twin: a brotli-first browser gets gzip, not identity.
  fs.writeFileSync(path.join(dist, 'assets/index-def456.css'), 'body { color: red }\n'.repeat(100));
  fs.writeFileSync(path.join(dist, 'assets/index-def456.css.gz'), zlib.gzipSync('body { color: red }\n'.repeat(100)));
  const app = express();
  app.use(webAssets({}, dist));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  fs.rmSync(dist, { recursive: true, force: true });
});

const ASSET_HEADERS = {
  'cache-control': 'public, max-age=31536000, immutable',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

test.each([
  ['gzip, deflate, br, zstd', 'br', zlib.brotliDecompressSync],
  ['br', 'br', zlib.brotliDecompressSync],
  ['gzip', 'gzip', zlib.gunzipSync],
  ['br;q=0, gzip;q=0.5', 'gzip', zlib.gunzipSync],
  ['*', 'br', zlib.brotliDecompressSync],
])('Accept-Encoding "%s" gets the %s twin, which decompresses to the script', async (accept, encoding, decompress) => {
  const reply = await get('/assets/index-abc123.js', accept);
  expect(reply.status).toBe(200);
  expect(reply.headers).toMatchObject({ 'content-encoding': encoding, vary: expect.stringMatching(/accept-encoding/i), ...ASSET_HEADERS });
  expect(reply.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/);
  expect(reply.headers['content-security-policy']).toContain("script-src 'self'");
  expect(reply.body.length).toBeLessThan(Buffer.byteLength(SCRIPT) / 10);
  expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
  expect(decompress(reply.body).toString()).toBe(SCRIPT);
});

test.each([[undefined], ['identity'], ['deflate'], ['br;q=0, gzip;q=0'], ['*;q=0']])('Accept-Encoding %s gets the plain script', async (accept) => {
  const reply = await get('/assets/index-abc123.js', accept);
  expect(reply.status).toBe(200);
  expect(reply.headers['content-encoding']).toBeUndefined();
  expect(reply.headers).toMatchObject({ vary: expect.stringMatching(/accept-encoding/i), ...ASSET_HEADERS });
  expect(reply.headers['content-type']).toMatch(/javascript/);
  expect(reply.body.toString()).toBe(SCRIPT);
});

test('a missing twin falls back to the next accepted encoding; HEAD carries the same headers', async () => {
  const css = await get('/assets/index-def456.css', 'br, gzip');
  expect(css.headers).toMatchObject({ 'content-encoding': 'gzip', ...ASSET_HEADERS });
  expect(css.headers['content-type']).toMatch(/^text\/css/);
  expect(zlib.gunzipSync(css.body).toString()).toBe('body { color: red }\n'.repeat(100));

  const head = await get('/assets/index-abc123.js', 'br', 'HEAD');
  expect(head).toMatchObject({ status: 200, headers: { 'content-encoding': 'br', ...ASSET_HEADERS }, body: Buffer.alloc(0) });
});

test('index.html and client routes stay uncached; unknown and traversing asset paths get no twin', async () => {
  for (const route of ['/', '/channels/a/b']) {
    const page = await get(route, 'br, gzip');
    expect(page).toMatchObject({ status: 200, headers: { 'cache-control': 'no-cache' } });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain('<div id="root">');
  }
  expect((await get('/assets/missing-000.js', 'br')).headers['content-encoding']).toBeUndefined();
  const traversal = await get('/assets/..%2Findex.html', 'br');
  expect(traversal.headers['content-encoding']).toBeUndefined();
  expect(traversal.body.toString()).not.toContain('compressed world');
});

test('Accept-Encoding parsing honours q-values and the wildcard', () => {
  expect(acceptedEncodings('gzip, br').map((e) => e.name)).toEqual(['br', 'gzip']);
  expect(acceptedEncodings('BR;Q=1').map((e) => e.name)).toEqual(['br']);
  expect(acceptedEncodings('gzip;q=0.001, *;q=0').map((e) => e.name)).toEqual(['gzip']);
  expect(acceptedEncodings('*;q=0.5, br;q=0').map((e) => e.name)).toEqual(['gzip']);
  expect(acceptedEncodings('')).toEqual([]);
});

const built = fs.existsSync(path.join(WEB_DIST, 'index.html'));
(built ? test : test.skip)('the web build writes a .br and a .gz twin beside every script and stylesheet', () => {
  const assets = fs.readdirSync(path.join(WEB_DIST, 'assets')).filter((name) => /\.(js|css)$/.test(name));
  expect(assets.length).toBeGreaterThan(1);
  for (const name of assets) {
    const file = path.join(WEB_DIST, 'assets', name);
    const original = fs.readFileSync(file);
    expect(zlib.brotliDecompressSync(fs.readFileSync(`${file}.br`)).equals(original)).toBe(true);
    expect(zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).equals(original)).toBe(true);
  }
});
