import type { RequestHandler } from 'express';

/**
 * The security headers of every HTTP response, the API's JSON and the web client's files alike:
 * never framed (clickjacking), never sniffed into another type, no referrer to other sites. Only
 * the Content-Security-Policy differs between what is a page (the web client) and what is data.
 */
export function securityHeaders(contentSecurityPolicy: string, extra: Readonly<Record<string, string>> = {}): RequestHandler {
  const headers = {
    'Content-Security-Policy': contentSecurityPolicy,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    ...extra,
  };
  return (_req, res, next) => {
    res.set(headers);
    next();
  };
}

/** JSON only: nothing the API returns may run, load anything or be shown in a frame. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

export interface WebPolicyOptions {
  /** Where the built assets are served from when not this origin (ASSET_BASE_URL, a CDN). */
  assetBaseUrl?: string;
  /** Firebase sign-in, when configured (GET /api/config): its token endpoints, or the emulator. */
  firebase?: { authDomain: string; emulatorUrl?: string } | null;
}

/** Google's endpoints that the Firebase Auth SDK calls for email/password sign-in and token refresh. */
const FIREBASE_AUTH_ORIGINS = ['https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com'];

const originOf = (url: string | undefined): string | undefined => {
  if (!url || !/^https?:\/\//i.test(url)) return undefined;
  return new URL(url).origin;
};

/**
 * The web client's policy: its own scripts and styles (and the CDN's), socket.io and the API on
 * this origin, user avatars and server icons from any https URL, media as blob:/MediaStream.
 * WebRTC itself is not governed by CSP. No inline script, no eval, no plugins, never framed.
 */
export function webContentSecurityPolicy(options: WebPolicyOptions = {}): string {
  const assets = originOf(options.assetBaseUrl);
  const own = ["'self'", ...(assets ? [assets] : [])].join(' ');
  const firebase = options.firebase
    ? [...FIREBASE_AUTH_ORIGINS, ...(options.firebase.emulatorUrl ? [originOf(options.firebase.emulatorUrl)!] : [])]
    : [];
  const directives: Record<string, string> = {
    'default-src': "'self'",
    'script-src': own,
    // React sets style attributes through the DOM (allowed); Vite's CSS is a file.
    'style-src': own,
    'img-src': `${own} data: blob: https:`,
    'font-src': `${own} data:`,
    'media-src': "'self' blob: mediastream:",
    'connect-src': ["'self'", ...(assets ? [assets] : []), ...firebase].join(' '),
    'worker-src': "'self' blob:",
    // The Firebase SDK's hidden iframe (token refresh across tabs) comes from its auth domain.
    'frame-src': options.firebase ? `https://${options.firebase.authDomain}` : "'none'",
    'object-src': "'none'",
    'base-uri': "'self'",
    'form-action': "'self'",
    'frame-ancestors': "'none'",
  };
  return Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
}
