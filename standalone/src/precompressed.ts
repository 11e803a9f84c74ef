import { access } from 'node:fs/promises';
import path from 'node:path';
import type { RequestHandler, Response } from 'express';

/** The encodings the web build writes beside each asset (web/precompress.ts), best first. */
const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

/** A built asset's name: no directories, so no way out of the assets directory. */
const ASSET_NAME = /^\/assets\/([\w.-]+)$/;

/** The quality (0..1) an Accept-Encoding header gives `encoding` (`*` stands for any other). */
function qualityOf(acceptEncoding: string, encoding: string): number {
  let wildcard = 0;
  for (const part of acceptEncoding.split(',')) {
    const [token = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((param) => /^\s*q=([\d.]+)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
    const quality = q === undefined ? 1 : Number(q);
    if (token === encoding) return Number.isFinite(quality) ? quality : 0;
    if (token === '*') wildcard = Number.isFinite(quality) ? quality : 0;
  }
  return wildcard;
}

/** The encodings a request accepts, in our order of preference (brotli is smaller than gzip). */
export function acceptedEncodings(acceptEncoding: string | undefined): (typeof ENCODINGS)[number][] {
  if (!acceptEncoding) return [];
  return ENCODINGS.filter(({ name }) => qualityOf(acceptEncoding, name) > 0);
}

const exists = (file: string) => access(file).then(
  () => true,
  () => false,
);

/**
 * Sends a built asset's precompressed twin (`.br`, `.gz`) when the request accepts its encoding,
 * with the original's Content-Type and `Vary: Accept-Encoding`; otherwise passes on to the plain
 * file. `setHeaders` adds what every asset response carries (caching).
 */
export function precompressedAssets(dist: string, setHeaders: (res: Response, file: string) => void): RequestHandler {
  return async (req, res, next) => {
    const name = (req.method === 'GET' || req.method === 'HEAD') && ASSET_NAME.exec(req.path)?.[1];
    if (!name) return next();
    const file = path.join(dist, 'assets', name);
    res.vary('Accept-Encoding');
    for (const encoding of acceptedEncodings(req.headers['accept-encoding'])) {
      if (!(await exists(file + encoding.suffix))) continue;
      res.type(path.extname(name));
      res.setHeader('Content-Encoding', encoding.name);
      setHeaders(res, file);
      return res.sendFile(file + encoding.suffix, { dotfiles: 'deny' }, (error) => {
        if (error && !res.headersSent) {
          res.removeHeader('Content-Encoding');
          next();
        }
      });
    }
    next();
  };
}
