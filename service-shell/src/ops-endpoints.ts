import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness';

export const OPS_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

/** An operation a service offers on its ops listener besides the standard paths (the SFU's POST /drain). */
export interface OpsAction {
  path: string;
  /** Answers the request (authentication is the action's own); a failure answers 500. */
  run(req: IncomingMessage): Promise<{ status: number; body: unknown }>;
}

export interface OpsEndpointsOptions {
  readiness: Readiness;
  /** The service's metrics, served as they are at /metrics. */
  metrics: Registry;
  /** Set: /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** POST-only operations on paths of their own. */
  actions?: readonly OpsAction[];
}

/** Handles a request if it is for an ops path; false leaves it to the caller. */
export type OpsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Constant-time comparison of a presented secret with the expected one. */
export const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
};

/** The token of an `Authorization: Bearer <token>` header, or ''. */
export const bearerToken = (req: IncomingMessage): string => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';

/**
 * `/healthz` (the process answers), `/readyz` (it should be given work) and `/metrics`
 * (Prometheus text). Nothing else: no configuration, versions or failure reasons are exposed.
 */
export function opsHandler(options: OpsEndpointsOptions): OpsHandler {
  const answer = async (path: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const report = await options.readiness.report();
      return sendJson(res, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', ...report });
    }
    if (options.metricsToken !== undefined && !sameSecret(bearerToken(req), options.metricsToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendJson(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'the metrics token is required' } });
    }
    const body = await options.metrics.metrics();
    res.writeHead(200, { 'Content-Type': options.metrics.contentType, 'Cache-Control': 'no-store' }).end(body);
  };
  const fail = (res: ServerResponse) => {
    if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'the ops endpoint failed' } });
    else res.destroy();
  };
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const action = options.actions?.find((candidate) => candidate.path === path);
    if (action) {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${path} answers POST` } });
        return true;
      }
      action.run(req).then(({ status, body }) => sendJson(res, status, body), () => fail(res));
      return true;
    }
    if (!(OPS_PATHS as readonly string[]).includes(path)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${path} answers GET` } });
      return true;
    }
    answer(path, req, res).catch(() => fail(res));
    return true;
  };
}

export interface OpsServer {
  /** e.g. http://127.0.0.1:9101 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The ops endpoints on a listener of their own; every other path is 404. */
export async function startOpsServer(handler: OpsHandler, port: number, host: string): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    if (!handler(req, res)) sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'ops paths: /healthz, /readyz, /metrics' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`,
    port: address.port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
