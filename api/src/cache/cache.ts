/**
 * A look-aside cache of JSON values with explicit invalidation, in Redis (a cluster: every API
 * instance sees every invalidation) or in this process (the embedded default).
 *
 * Invalidation must win against a reader that loaded from the database just before a write: the
 * reader could otherwise store the old value after the writer's invalidation and keep it until
 * the TTL. So every key has a generation, bumped by `invalidate`; `lookup` hands out the current
 * generation with a miss, and `fill` stores only if it is still current.
 */
export type CacheLookup<T> = { hit: true; value: T } | { hit: false; token: FillToken };

/** The generation a miss saw; opaque to callers. */
export type FillToken = string & { readonly __fillToken: unique symbol };

export interface Cache {
  lookup<T>(key: string): Promise<CacheLookup<T>>;
  /** Stores `value` for `ttlSeconds`, unless `key` was invalidated since the lookup that gave `token`. */
  fill<T>(key: string, value: T, token: FillToken, ttlSeconds: number): Promise<void>;
  /** Drops the keys, and makes fills of lookups made before this call do nothing. */
  invalidate(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A token that never matches: for a lookup that failed, so that its fill is skipped. */
export const NO_FILL = '\u0000no-fill' as FillToken;
