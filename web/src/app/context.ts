import { createContext, useContext, useSyncExternalStore } from 'react';
import type { SessionResponse } from '@concord/protocol';
import type { AppState } from '../state/app-state';
import type { AppStore } from '../state/store';
import type { VoiceController, VoiceView } from '../voice/controller';

export interface AppServices {
  store: AppStore;
  voice: VoiceController;
  session: SessionResponse;
  signOut(): void;
  /** Opens one of the app's dialogs. */
  openDialog(dialog: Dialog): void;
}

export type Dialog =
  | { kind: 'create-server' }
  | { kind: 'join-server'; code?: string }
  | { kind: 'invite'; serverId: string }
  | { kind: 'create-channel'; serverId: string; kind_: 'text' | 'voice' | 'category'; parentId: string | null }
  | { kind: 'server-settings'; serverId: string; tab?: 'overview' | 'roles' | 'members' | 'invites' }
  | { kind: 'channel-settings'; channelId: string; tab?: 'overview' | 'permissions' }
  | { kind: 'user-settings' }
  | { kind: 'confirm'; title: string; text: string; action: string; run: () => Promise<void> };

export const AppContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(AppContext);
  if (!services) throw new Error('useServices outside the signed-in app');
  return services;
}

/** Re-renders when the selected part of the app state changes (select must return stored values, not new objects). */
export function useAppState<T>(select: (state: AppState) => T): T {
  const { store } = useServices();
  return useSyncExternalStore(store.subscribe, () => select(store.state));
}

export function useVoice(): VoiceView {
  const { voice } = useServices();
  return useSyncExternalStore(voice.subscribe, () => voice.state);
}
