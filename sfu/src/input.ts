import { ProtocolError } from '@concord/protocol';

/** The part of a zod schema used here; keeps the SFU off a direct zod dependency. */
interface RequestSchema<T> {
  safeParse(payload: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<SchemaIssue> } };
}
interface SchemaIssue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/** Validates a payload against its protocol schema; a mismatch is the sender's fault, named by path. */
export function parseRequest<T>(schema: RequestSchema<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.map(String).join('.') || '(payload)'}: ${issue.message}`);
  throw new ProtocolError('BAD_REQUEST', issues.join('; '));
}

/**
 * Runs a mediasoup call whose arguments came from a client. The schemas only bound shapes; mediasoup
 * judges the semantics (codecs, SSRCs, fingerprints) and rejects with TypeError, UnsupportedError
 * or a worker Error — all faults of the input, so they reach the client as BAD_REQUEST rather than
 * INTERNAL. InvalidStateError (a closed channel: the worker or object went away) stays internal.
 */
export async function withClientInput<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // mediasoup exports its error classes as types only, so they are told apart by name.
    if (error instanceof ProtocolError || !(error instanceof Error) || error.name === 'InvalidStateError') throw error;
    throw new ProtocolError('BAD_REQUEST', error.message);
  }
}
