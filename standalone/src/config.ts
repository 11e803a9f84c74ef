import { z } from 'zod';
import { parseEnv, parsers, shellConfigOf, shellVariables, variable, type ShellConfig } from '@concord/service-shell';

/** What `npm start` itself reads; the API, signaling and SFU it composes read their own variables. */
export interface StandaloneConfig {
  port: number;
  host: string;
  /** The CDN the web client was built for (README), allowed by its Content-Security-Policy. */
  assetBaseUrl?: string;
  shell: ShellConfig;
}

/** The single process's own variables (README "Configuration" is generated from them: npm run docs:config). */
export const StandaloneVariables = z.object({
  ...shellVariables({ opsPortShown: 'unset: on `PORT` only' }),
  PORT: variable(parsers.port, { default: 3000, description: 'where the embedded platform listens (web client, API, signaling, and `/healthz`, `/readyz`, `/metrics`)' }),
  HOST: variable(parsers.text, { default: '127.0.0.1', description: 'address the embedded platform listens on' }),
  ASSET_BASE_URL: variable(parsers.url('http', 'https'), { description: 'the CDN the web client was built for; allowed by its Content-Security-Policy' }),
});

export function loadStandaloneConfig(env: NodeJS.ProcessEnv = process.env): StandaloneConfig {
  const vars = parseEnv(StandaloneVariables, env);
  return { port: vars.PORT, host: vars.HOST, ...(vars.ASSET_BASE_URL && { assetBaseUrl: vars.ASSET_BASE_URL }), shell: shellConfigOf(vars) };
}
