import { DEFAULT_MESSAGE_PAGE } from '@concord/protocol';
import type { Message, MessageUpdatedEvent } from '@concord/protocol';
import type { AppState } from './app-state';
import { EMPTY_CHAT, mergeMessages, newestSent, removeMessage, updateMessage, withReaction } from './chat';
import type { ChannelChat, ChatMessage } from './chat';

export function chatOf(state: AppState, channelId: string): ChannelChat {
  return state.chats[channelId] ?? EMPTY_CHAT;
}

/**
 * Changes one channel's chat. `create`: start a chat entry if there is none (false for live
 * events about channels we have not loaded, which their first load brings anyway).
 */
export function patchChat(state: AppState, channelId: string, change: (chat: ChannelChat) => ChannelChat, create = true): AppState {
  const chat = state.chats[channelId];
  if (!chat && !create) return state;
  return { ...state, chats: { ...state.chats, [channelId]: change(chat ?? EMPTY_CHAT) } };
}

/** The latest page fetched: the chat is live from here on. */
export function latestPageLoaded(state: AppState, channelId: string, page: readonly Message[]): AppState {
  return patchChat(state, channelId, (chat) => {
    const newest = newestSent(chat.messages);
    // Anything loaded that is older than this page and not adjacent to it would leave a gap: drop it.
    const oldestOfPage = page.reduce<string | null>((min, m) => (min === null || m.id < min ? m.id : min), null);
    const contiguous = !newest || !oldestOfPage || newest.id >= oldestOfPage || page.length < DEFAULT_MESSAGE_PAGE;
    const base = contiguous ? chat.messages : chat.messages.filter((m) => m.pending);
    return {
      ...chat,
      messages: mergeMessages(base, page, state.me.id),
      loaded: true,
      hasMore: contiguous && chat.loaded ? chat.hasMore : page.length >= DEFAULT_MESSAGE_PAGE,
      error: null,
    };
  });
}

/** The page before the oldest loaded message (scrolling up). */
export function olderPageLoaded(state: AppState, channelId: string, page: readonly Message[]): AppState {
  return patchChat(state, channelId, (chat) => ({
    ...chat,
    messages: mergeMessages(chat.messages, page, state.me.id),
    hasMore: page.length >= DEFAULT_MESSAGE_PAGE,
    loadingOlder: false,
    error: null,
  }));
}

/**
 * A channel is opened: its chat exists from now on, while its first load is on the way, so that
 * messages arriving live meanwhile are kept (the page may have been read before they were sent).
 */
export function chatOpened(state: AppState, channelId: string): AppState {
  return state.chats[channelId] ? state : patchChat(state, channelId, (chat) => chat);
}

/**
 * A sent message: our send confirmed, our edit answered, or one that arrived live. Live ones
 * only join a chat that was opened (a channel never opened gets them with its first load).
 */
export function messageReceived(state: AppState, message: Message, live = false): AppState {
  if (live && !state.chats[message.channelId]) return state;
  return patchChat(state, message.channelId, (chat) => ({ ...chat, messages: mergeMessages(chat.messages, [message], state.me.id) }));
}

export function messageUpdated(state: AppState, event: MessageUpdatedEvent): AppState {
  return patchChat(state, event.channelId, (chat) => ({ ...chat, messages: updateMessage(chat.messages, event) }), false);
}

export function messageRemoved(state: AppState, channelId: string, messageId: string): AppState {
  return patchChat(state, channelId, (chat) => ({ ...chat, messages: removeMessage(chat.messages, messageId) }), false);
}

/** One reaction more or less from `userId` (ours are shown at once, before the server confirms). */
export function reactionChanged(state: AppState, channelId: string, messageId: string, emoji: string, delta: 1 | -1, userId: string): AppState {
  const mine = userId === state.me.id;
  return patchChat(state, channelId, (chat) => ({ ...chat, messages: withReaction(chat.messages, messageId, emoji, delta, mine) }), false);
}

/** Our message, shown at once while it is on its way. */
export function pendingAdded(state: AppState, message: ChatMessage): AppState {
  return patchChat(state, message.channelId, (chat) => ({ ...chat, messages: [...chat.messages, message] }));
}

export function pendingChanged(state: AppState, channelId: string, nonce: string, change: Partial<ChatMessage>): AppState {
  return patchChat(state, channelId, (chat) => ({
    ...chat,
    messages: chat.messages.map((m) => (m.pending && m.nonce === nonce ? { ...m, ...change } : m)),
  }));
}

export function pendingDiscarded(state: AppState, channelId: string, nonce: string): AppState {
  return patchChat(state, channelId, (chat) => ({ ...chat, messages: chat.messages.filter((m) => !(m.pending && m.nonce === nonce)) }));
}
