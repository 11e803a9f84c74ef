import { useSyncExternalStore } from 'react';

/**
 * Where the user is, in the address bar (so reload and back/forward work):
 *   /channels/<serverId>[/<channelId>]   a server, and a channel of it
 *   /invite/<code>                       an invite link
 *   /                                    no server chosen
 */
export type Route = { kind: 'home' } | { kind: 'server'; serverId: string; channelId: string | null } | { kind: 'invite'; code: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'channels' && parts[1]) return { kind: 'server', serverId: parts[1], channelId: parts[2] ?? null };
  if (parts[0] === 'invite' && parts[1]) return { kind: 'invite', code: parts[1] };
  return { kind: 'home' };
}

export const channelPath = (serverId: string, channelId?: string | null) =>
  `/channels/${encodeURIComponent(serverId)}${channelId ? `/${encodeURIComponent(channelId)}` : ''}`;

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((listener) => listener());
window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  notify();
}

export function useRoute(): Route {
  const pathname = useSyncExternalStore(subscribe, () => location.pathname);
  // A new object per render: callers compare fields, not identity.
  return parseRoute(pathname);
}
