export * from './checks';
export * from './config';
export * from './http-logger';
export * from './logger';
export * from './ops-endpoints';
export * from './readiness';
export * from './service-shell';
export * from './shell-config';
