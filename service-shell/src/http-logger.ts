import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

export const REQUEST_ID_HEADER = 'x-request-id';
/** A caller's request id is kept only when it cannot smuggle anything into logs or headers. */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HttpLoggerOptions {
  logger: Logger;
  /** The authenticated user of a finished request, when the service knows one (ECS `user.id`). */
  userOf?: (req: IncomingMessage, res: ServerResponse) => string | undefined;
}

/** The path without the query string, which may carry tokens. */
const pathOf = (req: IncomingMessage): string => ((req as { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0] ?? '';

/**
 * One log line per request, in ECS fields, with a request id that `req.log` carries into every
 * line logged while serving it: the caller's `x-request-id` when it is a plain token, else a new
 * UUID; echoed in the response. No headers, bodies or query strings are logged: they carry tokens,
 * cookies and passwords.
 */
export function httpLogger(options: HttpLoggerOptions): HttpLogger {
  const fields = (req: IncomingMessage, res: ServerResponse, responseTimeMs: number) => {
    const userId = options.userOf?.(req, res);
    return {
      'http.request.method': req.method,
      'url.path': pathOf(req),
      'http.response.status_code': res.statusCode,
      'event.duration': Math.round(responseTimeMs * 1e6),
      'client.ip': req.socket.remoteAddress,
      ...(userId && { 'user.id': userId }),
    };
  };
  return pinoHttp({
    logger: options.logger,
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'http.request.id' },
    genReqId(req, res) {
      const given = req.headers[REQUEST_ID_HEADER];
      const id = typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode} failed`,
    customSuccessObject: (req, res, value: { responseTime: number }) => fields(req, res, value.responseTime),
    customErrorObject: (req, res, error, value: { responseTime: number }) => ({ ...fields(req, res, value.responseTime), err: error }),
  });
}
