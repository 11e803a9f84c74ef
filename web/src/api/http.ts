import { ErrorCode, HttpErrorBody, ProtocolError } from '@concord/protocol';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  token?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

/**
 * One HTTP request to the API on this page's origin. Every failure becomes a ProtocolError whose
 * message is meant for people: the server's own when it sent one, a plain one otherwise.
 * `UNAVAILABLE` with no status means the request may not have reached the server (a retry is safe
 * only when the request is idempotent or carries a nonce).
 */
export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let url = path;
  if (options.query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query)) if (value !== undefined) params.set(key, String(value));
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      ...(options.signal && { signal: options.signal }),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ProtocolError('UNAVAILABLE', 'Cannot reach the server. Check your connection.');
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) return body as T;
  throw httpError(response.status, body);
}

/** For answers without an error body (a proxy's, say): the code and words the status implies. */
function byStatus(status: number): [ErrorCode, string] {
  if (status === 401) return ['UNAUTHENTICATED', 'Please sign in again.'];
  if (status === 403) return ['FORBIDDEN', 'You are not allowed to do that.'];
  if (status === 404) return ['NOT_FOUND', 'That no longer exists.'];
  if (status === 429) return ['RATE_LIMITED', 'Too many attempts. Wait a moment and try again.'];
  if (status < 500) return ['BAD_REQUEST', 'The server could not handle that request.'];
  return ['UNAVAILABLE', 'The server is not available right now. Try again soon.'];
}

function httpError(status: number, body: unknown): ProtocolError {
  const [fallbackCode, fallbackMessage] = byStatus(status);
  const parsed = HttpErrorBody.safeParse(body);
  if (!parsed.success) return new ProtocolError(fallbackCode, fallbackMessage);
  const code = ErrorCode.safeParse(parsed.data.error.code);
  return new ProtocolError(code.success ? code.data : fallbackCode, sentence(parsed.data.error.message));
}

/** Server messages are lower-case fragments ("unknown channel"); shown to people as a sentence. */
export function sentence(message: string): string {
  const text = message.trim();
  if (!text) return text;
  const first = text[0]!.toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** Whether a failed request may be tried again as is: the server was unreachable, overloaded or timed out. */
export function isTransient(error: unknown): boolean {
  return error instanceof ProtocolError && (error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'RATE_LIMITED');
}
