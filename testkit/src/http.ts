/* A small HTTP client for API tests: JSON in, JSON (or text) out, bounded in time. */

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  /** Sent as a bearer token. */
  token?: string;
  json?: unknown;
  /** A body sent as it is, with the JSON content type (malformed JSON, oversized bodies). */
  raw?: string;
  headers?: Record<string, string>;
  /** Default 10 s. */
  timeoutMs?: number;
}

/** `method` `route` on `base`; the body is parsed as JSON, or kept as text when it is not JSON (metrics). */
export async function call<T = any>(base: string, method: string, route: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.raw ?? JSON.stringify(options.json);
  }
  const response = await fetch(`${base}${route}`, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** The status of `url`, or 0 when nothing answers. */
export const statusOf = (url: string, init?: RequestInit): Promise<number> =>
  fetch(url, init).then(
    (response) => response.status,
    () => 0,
  );
