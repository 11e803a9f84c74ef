/**
 * One timer drives every publisher's pacing: hundreds of per-track intervals would cost the event
 * loop more than the packets they send. Each tick hands every subscriber the current time; sources
 * send whatever became due since.
 */
export class PacingClock {
  readonly #tickers = new Set<(nowMs: number) => void>();
  readonly #periodMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs = 5) {
    this.#periodMs = periodMs;
  }

  /** Starts ticking with the first subscriber; returns the unsubscribe function. */
  add(ticker: (nowMs: number) => void): () => void {
    this.#tickers.add(ticker);
    this.#timer ??= setInterval(() => this.#tick(), this.#periodMs);
    return () => {
      this.#tickers.delete(ticker);
      if (this.#tickers.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    for (const ticker of this.#tickers) ticker(now);
  }
}
