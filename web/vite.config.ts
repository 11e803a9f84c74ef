import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompress } from './precompress';

/** Where the API + signaling server listens in development (one origin serves both). */
const server = 'http://127.0.0.1:3000';

/**
 * ASSET_BASE_URL (build time, default `/`): where the built assets are served from, e.g. a CDN
 * (`https://cdn.example.com/concord/`). index.html stays on the app's origin and points at the
 * content-hashed files there; the API and signaling stay on the app's origin too.
 */
function assetBase(): string {
  const base = process.env.ASSET_BASE_URL?.trim();
  if (!base) return '/';
  if (!/^(https?:\/\/|\/)/.test(base)) throw new Error(`ASSET_BASE_URL must be an http(s) URL or an absolute path (got "${base}")`);
  return base.endsWith('/') ? base : `${base}/`;
}

export default defineConfig({
  base: assetBase(),
  plugins: [react(), precompress()],
  resolve: {
    // The protocol package ships TypeScript source; bundle it like our own code.
    alias: { '@concord/protocol': new URL('../protocol/src/index.ts', import.meta.url).pathname },
  },
  build: {
    // Content-hashed file names (Vite's default) let the server cache them for a year.
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': server,
      '/socket.io': { target: server, ws: true },
    },
  },
});
