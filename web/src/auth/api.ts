import { ErrorCode, HttpErrorBody, ProtocolError } from '@concord/protocol';
import type {
  LocalSignInRequest,
  LocalSignUpRequest,
  SessionResponse,
  VoiceGrantResponse,
} from '@concord/protocol';

/**
 * The HTTP API on this page's origin. Every failure becomes a ProtocolError, whose message is
 * meant for people: the server's own when it sent one, a plain one otherwise.
 */
async function call<T>(method: 'GET' | 'POST', path: string, options: { token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch {
    throw new ProtocolError('UNAVAILABLE', 'Cannot reach the server. Check your connection.');
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) return body as T;
  throw httpError(response.status, body);
}

/** For answers without an error body (a proxy's, say): the code and words the status implies. */
function byStatus(status: number): [ErrorCode, string] {
  if (status === 401) return ['UNAUTHENTICATED', 'Please sign in again.'];
  if (status === 403) return ['FORBIDDEN', 'You are not allowed to do that.'];
  if (status === 429) return ['RATE_LIMITED', 'Too many attempts. Wait a moment and try again.'];
  if (status < 500) return ['BAD_REQUEST', 'The server could not handle that request.'];
  return ['UNAVAILABLE', 'The server is not available right now. Try again soon.'];
}

function httpError(status: number, body: unknown): ProtocolError {
  const [fallbackCode, fallbackMessage] = byStatus(status);
  const parsed = HttpErrorBody.safeParse(body);
  if (!parsed.success) return new ProtocolError(fallbackCode, fallbackMessage);
  const code = ErrorCode.safeParse(parsed.data.error.code);
  return new ProtocolError(code.success ? code.data : fallbackCode, parsed.data.error.message);
}

export const signUp = (request: LocalSignUpRequest) => call<SessionResponse>('POST', '/api/auth/local/signup', { body: request });

export const signIn = (request: LocalSignInRequest) => call<SessionResponse>('POST', '/api/auth/local/signin', { body: request });

/** Resolves while the token is still good; rejects with UNAUTHENTICATED when it is not. */
export const checkSession = (token: string) => call<unknown>('GET', '/api/me', { token });

export const fetchVoiceGrant = (token: string, roomId: string) =>
  call<VoiceGrantResponse>('POST', '/api/voice/grant', { token, body: { roomId } });
