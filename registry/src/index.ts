export type { RoomRegistry } from './registry';
export { InProcessRegistry } from './in-process';
export { RedisRegistry, type RedisRegistryOptions } from './redis';
