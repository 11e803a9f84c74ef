import type { Message } from '@concord/protocol';
import type { AppState, ReadMarkers } from './app-state';
import { newestSent } from './chat';
import { chatOf } from './messages';

const LAST_READ_KEY = 'concord.lastRead';
const UNREAD_KEY = 'concord.unread';

/** The read markers this browser kept, so unread channels survive a reload. */
export function loadReadMarkers(): ReadMarkers {
  return { lastRead: loadJson(LAST_READ_KEY, {}), unread: loadJson(UNREAD_KEY, {}) };
}

export function saveReadMarkers({ lastRead, unread }: ReadMarkers): void {
  try {
    localStorage.setItem(LAST_READ_KEY, JSON.stringify(lastRead));
    localStorage.setItem(UNREAD_KEY, JSON.stringify(unread));
  } catch {
    // Storage full or denied: read markers just do not survive a reload.
  }
}

function loadJson<T>(key: string, fallback: T): T {
  try {
    return (JSON.parse(localStorage.getItem(key) ?? 'null') as T | null) ?? fallback;
  } catch {
    return fallback;
  }
}

/** Everything loaded in the channel is seen: it is no longer unread, its newest message is the marker. */
export function markedRead(state: AppState, channelId: string): AppState {
  const newest = newestSent(chatOf(state, channelId).messages);
  if (!state.unread[channelId] && (!newest || state.lastRead[channelId] === newest.id)) return state;
  const unread = { ...state.unread };
  delete unread[channelId];
  const marker = state.lastRead[channelId];
  const lastRead = newest && (!marker || marker < newest.id) ? { ...state.lastRead, [channelId]: newest.id } : state.lastRead;
  return { ...state, unread, lastRead };
}

/** Someone else's message we did not see: its channel turns unread, and counts a mention of us. */
export function messageUnseen(state: AppState, message: Message): AppState {
  const me = state.me.id;
  const mentioned = message.mentions.includes(me) || message.mentionEveryone;
  const mentions = (state.unread[message.channelId]?.mentions ?? 0) + (mentioned ? 1 : 0);
  return { ...state, unread: { ...state.unread, [message.channelId]: { mentions } } };
}
