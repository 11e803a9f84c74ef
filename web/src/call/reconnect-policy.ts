import { ProtocolError } from '@concord/protocol';
import type { ErrorCode } from '@concord/protocol';

/** Why the room is rejoining. */
export type ReconnectReason = 'signaling' | 'room-closed' | 'media';

export interface ReconnectContext {
  /** 0 for the first try after the call was lost. */
  attempt: number;
  /** Time since the call was lost. */
  elapsedMs: number;
  reason: ReconnectReason;
  /** Why the previous try failed (absent before the first). */
  error?: unknown;
}

/**
 * Decides how a lost call is retried. The room calls nextRetryDelayMs before every rejoin; null
 * gives up (the room turns 'disconnected'). ICE trouble is first handled by an ICE restart that
 * has iceRestartTimeoutMs to reconnect the media before the room rejoins.
 */
export interface ReconnectPolicy {
  nextRetryDelayMs(context: ReconnectContext): number | null;
  readonly iceRestartTimeoutMs: number;
}

export interface DefaultReconnectOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Gives up once the call has been lost this long. */
  maxElapsedMs?: number;
  /** Fraction of each delay that is randomised, so peers of a dead room do not rejoin in step. */
  jitter?: number;
  iceRestartTimeoutMs?: number;
  random?: () => number;
}

/** Errors that a new try cannot fix: the user's session is gone or they may not be in the room. */
const FATAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_REQUEST']);

/**
 * Retries at once, then with exponential backoff (base · 2^(attempt-1), capped at maxDelayMs,
 * ± jitter), for at most maxAttempts tries and maxElapsedMs; never after a fatal error.
 */
export class DefaultReconnectPolicy implements ReconnectPolicy {
  readonly iceRestartTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxElapsedMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: DefaultReconnectOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.maxElapsedMs = options.maxElapsedMs ?? 120_000;
    this.jitter = options.jitter ?? 0.2;
    this.iceRestartTimeoutMs = options.iceRestartTimeoutMs ?? 8_000;
    this.random = options.random ?? Math.random;
  }

  nextRetryDelayMs({ attempt, elapsedMs, error }: ReconnectContext): number | null {
    if (error instanceof ProtocolError && FATAL.has(error.code)) return null;
    if (attempt >= this.maxAttempts || elapsedMs >= this.maxElapsedMs) return null;
    if (attempt === 0) return 0;
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(delay * (1 + this.jitter * (2 * this.random() - 1)));
  }
}
