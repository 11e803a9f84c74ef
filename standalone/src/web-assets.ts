import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { securityHeaders, webContentSecurityPolicy, type WebPolicyOptions } from '@concord/api';

const WEB_DIST = path.resolve(__dirname, '../../web/dist');

const isServerPath = (urlPath: string): boolean => urlPath.startsWith('/api/') || urlPath.startsWith('/socket.io/');

/**
 * The built web client: content-hashed assets cached for a year, index.html never cached, and
 * client-side routes answered with index.html. API and socket.io paths pass through (the API sets
 * its own headers). Every file and the fallback carry the security headers with the web client's
 * Content-Security-Policy (`policy`: the asset CDN and Firebase sign-in, when configured).
 */
export function webAssets(policy: WebPolicyOptions = {}): RequestHandler[] {
  const headers = securityHeaders(webContentSecurityPolicy(policy));
  const pageHeaders: RequestHandler = (req, res, next) => (isServerPath(req.path) ? next() : headers(req, res, next));
  const assets = express.static(WEB_DIST, {
    index: false,
    setHeaders(res, file) {
      res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const spaFallback: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' || isServerPath(req.path)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(WEB_DIST, 'index.html'), (error) => {
      if (error) next();
    });
  };
  return [pageHeaders, assets, spaFallback];
}
