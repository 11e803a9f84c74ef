export { Signaling, type SignalingDeps } from './server';
export { loadSignalingConfig, type SignalingConfig } from './config';
export { TokenVerifier } from './token-verifier';
export { SignalingMetrics, type SignalingMetricsOptions } from './metrics';
export { RealtimeDelivery, type SignalingRealtimeDeps } from './realtime';
export { NO_SERVER_MEMBERSHIPS, PresenceTracker, type PresenceTrackerOptions, type ServerMembershipSource } from './presence';
