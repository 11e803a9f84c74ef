export type { RoomRegistry } from './registry';
export { InProcessRegistry } from './in-process';
