export { NO_FILL, type Cache, type CacheLookup, type FillToken } from './cache';
export { MemoryCache, type MemoryCacheOptions } from './memory-cache';
export { RedisCache, type RedisCacheOptions } from './redis-cache';
export { CachedLoader, DEFAULT_CACHE_TTL_SECONDS } from './cached';
