// First: configures zod before any schema below is made.
import './schema-config';

export * from './errors';
export * from './mediasoup';
export * from './voice';
export * from './control';
export * from './auth';
export * from './registry';
export * from './realtime';
export * from './namespaces';
export * from './permissions';
export * from './messages';
export * from './servers';
export * from './text';
export * from './sessions';
export * from './two-factor';
