import { z } from 'zod';

/** Every failure a peer can see has one of these codes; the message is for humans. */
export const ErrorCode = z.enum([
  'BAD_REQUEST', // malformed or schema-invalid payload
  'PAYLOAD_TOO_LARGE',
  'UNAUTHENTICATED', // no or invalid session token
  'INVALID_CREDENTIALS', // sign-in with a wrong user name or password
  'CONFLICT', // the thing to create exists already (e.g. a taken user name)
  'GRANT_INVALID', // voice grant missing, expired, forged or for another room
  'FORBIDDEN', // authenticated but not allowed (e.g. producing video without the grant)
  'TWO_FACTOR_REQUIRED', // the action needs two-factor sign-in on the account (a server's moderator rule), or a second factor first
  'NOT_IN_ROOM', // a room request before join, or after leave
  'NOT_FOUND', // unknown or foreign transport / producer / consumer id
  'OUT_OF_ORDER', // valid message at the wrong time (e.g. consume before the recv transport exists)
  'RATE_LIMITED',
  'UNAVAILABLE', // no SFU node can take the room, or the room's node went away
  'CAPACITY', // an SFU node or worker past its capacity refused a new peer or transport; signaling places the peer elsewhere
  'TIMEOUT', // an internal call did not answer in time
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({ code: ErrorCode, message: z.string() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The ack of every request: a result or a typed error, never an exception across the wire. */
export type Result<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

export const resultSchema = <T extends z.ZodType>(data: T) =>
  z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), data }), z.object({ ok: z.literal(false), error: ErrorBody })]);

/** A failure meant to reach the peer as-is. Anything else thrown becomes INTERNAL. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }

  static fromBody(body: ErrorBody): ProtocolError {
    return new ProtocolError(body.code, body.message);
  }
}

export const ok = <T>(data: T): Result<T> => ({ ok: true, data });

export function fail(error: unknown): { ok: false; error: ErrorBody } {
  if (error instanceof ProtocolError) return { ok: false, error: error.toBody() };
  return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
}

/** Unwraps an ack on the calling side, turning a typed error back into a ProtocolError. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.data;
  throw ProtocolError.fromBody(result.error);
}
