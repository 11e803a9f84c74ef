export { Signaling, type SignalingDeps } from './server';
export { loadSignalingConfig, type SignalingConfig } from './config';
export { TokenVerifier } from './token-verifier';
