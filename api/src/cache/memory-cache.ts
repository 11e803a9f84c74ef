import type { Cache, CacheLookup, FillToken } from './cache';

interface Entry {
  json: string;
  expiresAt: number;
}

export interface MemoryCacheOptions {
  /** Default 50 000: beyond it the oldest entries go first. */
  maxEntries?: number;
  /** Default 100 000 remembered generations; beyond it every outstanding fill is void (see `era`). */
  maxGenerations?: number;
  now?: () => number;
}

/**
 * The embedded default (one API process, no Redis). Values are kept as JSON so that a caller
 * mutating what it got can never change what the next caller gets, as with Redis.
 */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  /**
   * Bumped when the generations map is cleared to bound its size: tokens carry the era, so fills
   * of lookups from before the clear are refused rather than trusted with a forgotten generation.
   */
  private era = 0;
  private readonly maxEntries: number;
  private readonly maxGenerations: number;
  private readonly now: () => number;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 50_000;
    this.maxGenerations = options.maxGenerations ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  async lookup<T>(key: string): Promise<CacheLookup<T>> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) return { hit: true, value: JSON.parse(entry.json) as T };
    if (entry) this.entries.delete(key);
    return { hit: false, token: this.token(key) };
  }

  async fill<T>(key: string, value: T, token: FillToken, ttlSeconds: number): Promise<void> {
    if (token !== this.token(key)) return;
    // Re-inserted at the end: Map order is insertion order, so the first key is the oldest.
    this.entries.delete(key);
    this.entries.set(key, { json: JSON.stringify(value), expiresAt: this.now() + ttlSeconds * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    if (this.generations.size + keys.length > this.maxGenerations) {
      this.generations.clear();
      this.era += 1;
    }
    for (const key of keys) {
      this.entries.delete(key);
      this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    }
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.generations.clear();
  }

  private token(key: string): FillToken {
    return `${this.era}:${this.generations.get(key) ?? 0}` as FillToken;
  }
}
