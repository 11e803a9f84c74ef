import path from 'node:path';
import express, { type RequestHandler, type Response } from 'express';
import { securityHeaders, webContentSecurityPolicy, type WebPolicyOptions } from '@concord/api';
import { precompressedAssets } from './precompressed';

const WEB_DIST = path.resolve(__dirname, '../../web/dist');

const isServerPath = (urlPath: string): boolean => urlPath.startsWith('/api/') || urlPath.startsWith('/socket.io/');

/**
 * The built web client: content-hashed assets cached for a year, index.html never cached, and
 * client-side routes answered with index.html. API and socket.io paths pass through (the API sets
 * its own headers). Every file and the fallback carry the security headers with the web client's
 * Content-Security-Policy (`policy`: the asset CDN and Firebase sign-in, when configured). Assets
 * go out brotli- or gzip-compressed when the browser accepts it (the build writes both).
 */
export function webAssets(policy: WebPolicyOptions = {}, dist = WEB_DIST): RequestHandler[] {
  const headers = securityHeaders(webContentSecurityPolicy(policy));
  const pageHeaders: RequestHandler = (req, res, next) => (isServerPath(req.path) ? next() : headers(req, res, next));
  const cacheHeaders = (res: Response, file: string) => {
    res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
  };
  const assets = express.static(dist, { index: false, setHeaders: cacheHeaders });
  const spaFallback: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' || isServerPath(req.path)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(dist, 'index.html'), (error) => {
      if (error) next();
    });
  };
  return [pageHeaders, precompressedAssets(dist, cacheHeaders), assets, spaFallback];
}
