import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { HttpErrorBody as HttpErrorBodySchema, ProtocolError, type ErrorCode } from '@concord/protocol';

/** Each code has one status, so an error is made from its code alone. */
const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_CREDENTIALS: 401,
  UNAUTHENTICATED: 401,
  GRANT_INVALID: 401,
  FORBIDDEN: 403,
  TWO_FACTOR_REQUIRED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  NOT_IN_ROOM: 409,
  OUT_OF_ORDER: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  CAPACITY: 503,
  TIMEOUT: 504,
};

/** `{ error: { code, message } }`, the body of every failed request. */
export type HttpErrorBody = ReturnType<typeof HttpErrorBodySchema.parse>;

export class HttpError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = STATUS[code];
  }

  toBody(): HttpErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** The part of a zod schema we use, so the API needs no zod import of its own. */
interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly SchemaIssue[] } };
}

/** The parsed body, or a 400 naming each offending field, e.g. `username: Too small: …`. */
export function parseBody<T>(schema: Schema<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const described = result.error.issues.slice(0, 5).map((issue) => `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`);
  throw new HttpError('BAD_REQUEST', described.join('; ') || 'invalid request body');
}

/** Errors raised before our handlers run (body parser, router) carry an http-errors style status. */
interface StatusError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  expose?: unknown;
  message?: unknown;
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ProtocolError) return new HttpError(error.code, error.message);
  const e = (typeof error === 'object' && error !== null ? error : {}) as StatusError;
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return new HttpError('INTERNAL', 'internal error');
  if (e.type === 'entity.too.large') return new HttpError('PAYLOAD_TOO_LARGE', 'request body is too large');
  if (e.type === 'entity.parse.failed') return new HttpError('BAD_REQUEST', 'request body is not valid JSON');
  return new HttpError('BAD_REQUEST', e.expose === true && typeof e.message === 'string' ? e.message : 'bad request');
}

/** The last middleware: every failure leaves as `{ error: { code, message } }`; only our own faults are 5xx. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) (req.log ?? logger).error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return next(error);
    res.status(httpError.status).set(httpError.headers).json(httpError.toBody());
  };
}
