import { ProtocolError } from '@concord/protocol';

/**
 * Classifies what `pg` throws. SQL errors (constraint violations and the like) carry a five
 * character SQLSTATE in `code` and reach the caller unchanged, so a repository can map the ones
 * it expects (see `isUniqueViolation` / `isForeignKeyViolation`); errors meaning "the database is
 * not there" become `ProtocolError('UNAVAILABLE')`, which the API answers with 503.
 */

interface PgLikeError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
  errors?: unknown;
}

const asPg = (error: unknown): PgLikeError => (typeof error === 'object' && error !== null ? (error as PgLikeError) : {});

/** The SQLSTATE (or Node system error code) of an error, if it has one. */
export function pgErrorCode(error: unknown): string | undefined {
  const code = asPg(error).code;
  return typeof code === 'string' ? code : undefined;
}

const SYSTEM_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // unix socket path gone
]);

/** Errors `pg` raises without a code when a connection breaks or cannot be made in time. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'is not queryable',
  'Query read timeout',
];

/**
 * True when the error says the server cannot be reached or dropped us: refused / reset TCP,
 * `pg` connect timeouts, class 08 (connection exception), 57P01..57P03 (admin / crash shutdown,
 * cannot connect now) and 53300 (too many connections).
 */
export function isConnectionError(error: unknown): boolean {
  const { code, message, errors } = asPg(error);
  if (typeof code === 'string') {
    if (SYSTEM_CONNECTION_CODES.has(code)) return true;
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
  }
  if (typeof message === 'string' && CONNECTION_MESSAGES.some((text) => message.includes(text))) return true;
  // Node reports a refused dual-stack connect (localhost → ::1 and 127.0.0.1) as an AggregateError.
  return Array.isArray(errors) && errors.some(isConnectionError);
}

/** statement_timeout (57014 query_canceled) or lock_timeout (55P03) fired. */
export function isTimeoutError(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code === '57014' || code === '55P03';
}

/** A serialization failure or deadlock: the transaction may succeed if run again. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code === '40001' || code === '40P01';
}

const violates = (error: unknown, sqlstate: string, constraint?: string): boolean =>
  pgErrorCode(error) === sqlstate && (constraint === undefined || asPg(error).constraint === constraint);

/** 23505, optionally of one named constraint or unique index (e.g. `users_username_key`). */
export const isUniqueViolation = (error: unknown, constraint?: string): boolean => violates(error, '23505', constraint);

/**
 * 23503, optionally of one named constraint. Inserting into a parent deleted meanwhile (a message
 * into a deleted channel, `messages_channel_fk`) fails this way: map it to NOT_FOUND.
 */
export const isForeignKeyViolation = (error: unknown, constraint?: string): boolean => violates(error, '23503', constraint);

/** 23514, optionally of one named check constraint. */
export const isCheckViolation = (error: unknown, constraint?: string): boolean => violates(error, '23514', constraint);

/**
 * 22021 (a NUL or invalid UTF-8 byte) or 22P05 (no equivalent in the server's encoding): text the
 * database cannot store. The request schemas refuse such text (protocol's text.ts); this is the
 * backstop for a field that slipped through, so that it is the client's 400, never our 500.
 */
export function isUnstorableTextError(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code === '22021' || code === '22P05';
}

/**
 * Connection problems → UNAVAILABLE, timeouts → TIMEOUT, unstorable text → BAD_REQUEST (each
 * keeps the original as `cause` for logs); anything else is returned unchanged.
 */
export function toProtocolError(error: unknown): unknown {
  if (error instanceof ProtocolError) return error;
  let mapped: ProtocolError | undefined;
  if (isConnectionError(error)) mapped = new ProtocolError('UNAVAILABLE', 'database unavailable');
  else if (isTimeoutError(error)) mapped = new ProtocolError('TIMEOUT', 'database query timed out');
  else if (isUnstorableTextError(error)) mapped = new ProtocolError('BAD_REQUEST', 'the text contains a character that cannot be stored');
  if (!mapped) return error;
  mapped.cause = error;
  return mapped;
}
