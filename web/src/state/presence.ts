import type { PresenceStatus } from '@concord/protocol';
import type { AppState } from './app-state';

export function presenceUpdated(state: AppState, userId: string, status: PresenceStatus): AppState {
  return { ...state, presence: { ...state.presence, [userId]: status } };
}
