export * from './errors';
export * from './mediasoup';
export * from './voice';
export * from './control';
export * from './auth';
export * from './registry';
export * from './permissions';
