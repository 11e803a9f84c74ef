export { checkedEvent, checkedRevocation, checkedVoicePermissions, checkedVoiceRemoval, type Audience, type RealtimePublisher } from './publisher';
export { InProcessRealtimePublisher } from './in-process-publisher';
export { RedisRealtimePublisher, type RedisRealtimePublisherOptions } from './redis-publisher';
