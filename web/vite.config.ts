import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** Where the API + signaling server listens in development (one origin serves both). */
const server = 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  resolve: {
    // The protocol package ships TypeScript source; bundle it like our own code.
    alias: { '@concord/protocol': new URL('../protocol/src/index.ts', import.meta.url).pathname },
  },
  server: {
    proxy: {
      '/api': server,
      '/socket.io': { target: server, ws: true },
    },
  },
});
