import path from 'node:path';
import express, { type RequestHandler } from 'express';

const WEB_DIST = path.resolve(__dirname, '../../web/dist');

/**
 * The built web client: content-hashed assets cached for a year, index.html never cached, and
 * client-side routes answered with index.html. API and socket.io paths pass through.
 */
export function webAssets(): RequestHandler[] {
  const assets = express.static(WEB_DIST, {
    index: false,
    setHeaders(res, file) {
      res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const spaFallback: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' || req.path.startsWith('/api/') || req.path.startsWith('/socket.io/')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(WEB_DIST, 'index.html'), (error) => {
      if (error) next();
    });
  };
  return [assets, spaFallback];
}
