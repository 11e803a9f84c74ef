import type { AppState } from './app-state';

/** How long "is typing" shows after a typing event, unless another one or their message comes first. */
export const TYPING_MS = 9_000;

export function typingStarted(state: AppState, channelId: string, userId: string, now: number): AppState {
  if (userId === state.me.id) return state;
  return { ...state, typing: { ...state.typing, [channelId]: { ...state.typing[channelId], [userId]: now + TYPING_MS } } };
}

/** Their message ends their typing. */
export function typingEnded(state: AppState, channelId: string, userId: string): AppState {
  if (!state.typing[channelId]?.[userId]) return state;
  const typing = { ...state.typing[channelId] };
  delete typing[userId];
  return { ...state, typing: { ...state.typing, [channelId]: typing } };
}

/** Drops the "is typing" of those who stopped; the same snapshot when nobody did. */
export function typingExpired(state: AppState, now: number): AppState {
  let changed = false;
  const typing: AppState['typing'] = {};
  for (const [channelId, users] of Object.entries(state.typing)) {
    const live = Object.fromEntries(Object.entries(users).filter(([, until]) => until > now));
    if (Object.keys(live).length !== Object.keys(users).length) changed = true;
    if (Object.keys(live).length > 0) typing[channelId] = live;
  }
  return changed ? { ...state, typing } : state;
}
