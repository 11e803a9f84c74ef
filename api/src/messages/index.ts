export { registerMessageRoutes, type MessageDeps, type MessageRoutes } from './routes';
export { ChannelEvents } from './events';
export { MessageStore } from './store';
