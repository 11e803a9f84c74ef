export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Attempts counted in a key's current window, and the seconds until that window ends (0: none open). */
export interface RateCount {
  count: number;
  retryAfterSeconds: number;
}

/** Counts attempts per key. Async because the cluster's limiter (Redis) will be. */
export interface RateLimiter {
  consume(key: string): Promise<RateDecision>;
  /** The key's current count, without counting an attempt. */
  peek(key: string): Promise<RateCount>;
}

interface Window {
  startedAt: number;
  count: number;
}

/**
 * Fixed windows in one process's memory: at most `limit` attempts per key per `windowMs`.
 * Expired windows are swept as calls arrive, so memory follows the number of recent keys and no
 * timer keeps the process alive.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private nextSweepAt = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async consume(key: string): Promise<RateDecision> {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs) {
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= this.limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.startedAt + this.windowMs - now) / 1000)) };
    }
    window.count += 1;
    return { allowed: true };
  }

  async peek(key: string): Promise<RateCount> {
    const now = this.now();
    const window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs) return { count: 0, retryAfterSeconds: 0 };
    return { count: window.count, retryAfterSeconds: Math.max(1, Math.ceil((window.startedAt + this.windowMs - now) / 1000)) };
  }

  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    for (const [key, window] of this.windows) if (now - window.startedAt >= this.windowMs) this.windows.delete(key);
  }
}
