export type { RoomRegistry } from './registry';
export { InProcessRegistry } from './in-process';
export { RedisRegistry, type RedisRegistryOptions } from './redis';
export { hasHeadroom, pickNode, pickNodeFromEntries, type NodeEntry } from './placement';
export { aggregateStatus, isTransition, type PresenceChange, type PresenceStore } from './presence';
export { InProcessPresenceStore } from './presence-in-process';
export { RedisPresenceStore, type RedisPresenceStoreOptions } from './presence-redis';
export { RedisRevokedSessions, type RedisRevokedSessionsOptions, type SessionRevocationRecord } from './revoked-sessions-redis';
export { RedisServerMemberships, type RedisServerMembershipsOptions } from './server-memberships-redis';
