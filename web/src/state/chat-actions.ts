import { DEFAULT_MESSAGE_PAGE } from '@concord/protocol';
import type { Message } from '@concord/protocol';
import type { ApiClient } from '../api/client';
import { isTransient } from '../api/http';
import { describeError } from '../describe-error';
import type { AppState } from './app-state';
import { findChannel } from './channels';
import { newNonce, oldestSent, pendingId } from './chat';
import type { ChannelChat, ChatMessage } from './chat';
import { shareInFlight } from './in-flight';
import {
  chatOf,
  chatOpened,
  latestPageLoaded,
  messageReceived,
  messageRemoved,
  olderPageLoaded,
  patchChat,
  pendingAdded,
  pendingChanged,
  pendingDiscarded,
  reactionChanged,
} from './messages';
import { typingEnded } from './typing';
import { markedRead, messageUnseen, saveReadMarkers } from './unread';

/** What the chat actions need of the store: its client, its snapshot, and the one way to change it. */
export interface StoreCore {
  readonly api: ApiClient;
  state(): AppState;
  /** The store is closed: nothing changes any more. */
  closed(): boolean;
  /** Applies a transition; says whether the snapshot changed. */
  update(change: (state: AppState) => AppState): boolean;
}

/** Typing notifications we send: at most one per channel this often. */
const TYPING_EVERY_MS = 6_000;
const SEND_ATTEMPTS = 4;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The chat of the channels we look at: loading history, sending (pending, retried, failed),
 * editing, deleting, reacting, typing, and the read markers, as requests to the API whose
 * answers go into the snapshot through the messages and unread slices.
 */
export class ChatActions {
  private readonly typingSent = new Map<string, number>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(private readonly core: StoreCore) {}

  of(channelId: string): ChannelChat {
    return chatOf(this.core.state(), channelId);
  }

  /** Shows a channel: loads its latest messages (once) and marks it read while it is on screen. */
  open(channelId: string | null): void {
    this.core.update((s) => ({ ...s, activeChannelId: channelId }));
    if (!channelId) return;
    this.core.update((s) => chatOpened(s, channelId));
    this.markRead(channelId);
    void this.loadLatest(channelId).catch(() => undefined);
  }

  loadLatest(channelId: string, force = false): Promise<void> {
    if (this.of(channelId).loaded && !force) return Promise.resolve();
    return shareInFlight(this.loading, channelId, () => this.fetchLatest(channelId));
  }

  private async fetchLatest(channelId: string): Promise<void> {
    try {
      const { messages } = await this.core.api.messages(channelId, { limit: DEFAULT_MESSAGE_PAGE });
      this.core.update((s) => latestPageLoaded(s, channelId, messages));
      if (this.core.state().activeChannelId === channelId) this.markRead(channelId);
    } catch (error) {
      this.core.update((s) => patchChat(s, channelId, (chat) => ({ ...chat, error: describeError(error) })));
      throw error;
    }
  }

  /** The page before the oldest loaded message (scrolling up). */
  async loadOlder(channelId: string): Promise<void> {
    const chat = this.of(channelId);
    if (!chat.loaded || !chat.hasMore || chat.loadingOlder) return;
    const oldest = oldestSent(chat.messages);
    if (!oldest) {
      this.core.update((s) => patchChat(s, channelId, (c) => ({ ...c, hasMore: false })));
      return;
    }
    this.core.update((s) => patchChat(s, channelId, (c) => ({ ...c, loadingOlder: true })));
    try {
      const { messages } = await this.core.api.messages(channelId, { before: oldest.id, limit: DEFAULT_MESSAGE_PAGE });
      this.core.update((s) => olderPageLoaded(s, channelId, messages));
    } catch (error) {
      this.core.update((s) => patchChat(s, channelId, (c) => ({ ...c, loadingOlder: false, error: describeError(error) })));
    }
  }

  /**
   * Sends at once as a pending message and confirms it when the server answers. Transient failures
   * are retried with the same nonce, so a send that did reach the server is never posted twice;
   * after the last try the message stays, marked failed, for retrySend().
   */
  send(channelId: string, content: string, replyToId: string | null): void {
    const channel = findChannel(this.core.state(), channelId);
    if (!channel) return;
    const nonce = newNonce();
    const pending: ChatMessage = {
      id: pendingId(nonce),
      channelId,
      serverId: channel.serverId,
      authorId: this.core.state().me.id,
      content,
      createdAt: new Date().toISOString(),
      editedAt: null,
      replyToId,
      mentions: [],
      mentionEveryone: false,
      nonce,
      reactions: [],
      pending: 'sending',
    };
    this.core.update((s) => pendingAdded(s, pending));
    this.typingSent.delete(channelId);
    void this.deliver(pending);
  }

  retrySend(channelId: string, nonce: string): void {
    const message = this.of(channelId).messages.find((m) => m.nonce === nonce && m.pending === 'failed');
    if (!message) return;
    this.core.update((s) => pendingChanged(s, channelId, nonce, { pending: 'sending', error: undefined }));
    void this.deliver(message);
  }

  discardPending(channelId: string, nonce: string): void {
    this.core.update((s) => pendingDiscarded(s, channelId, nonce));
  }

  private async deliver(message: ChatMessage): Promise<void> {
    const { channelId, content, replyToId, nonce } = message;
    for (let attempt = 1; ; attempt++) {
      try {
        const sent = await this.core.api.sendMessage(channelId, { content, nonce: nonce!, ...(replyToId && { replyToId }) });
        this.core.update((s) => messageReceived(s, sent));
        this.markRead(channelId);
        return;
      } catch (error) {
        if (this.core.closed()) return;
        if (!isTransient(error) || attempt >= SEND_ATTEMPTS) {
          this.core.update((s) => pendingChanged(s, channelId, nonce!, { pending: 'failed', error: describeError(error) }));
          return;
        }
        await sleep(400 * 2 ** (attempt - 1));
      }
    }
  }

  async editMessage(channelId: string, messageId: string, content: string): Promise<void> {
    const message = await this.core.api.editMessage(channelId, messageId, { content });
    this.core.update((s) => messageReceived(s, message));
  }

  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.core.api.deleteMessage(channelId, messageId);
    this.core.update((s) => messageRemoved(s, channelId, messageId));
  }

  /** Adds or removes our reaction, shown at once and undone if the server refuses. */
  async toggleReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    const message = this.of(channelId).messages.find((m) => m.id === messageId);
    if (!message) return;
    const mine = message.reactions.some((r) => r.emoji === emoji && r.me);
    const apply = (delta: 1 | -1) => this.core.update((s) => reactionChanged(s, channelId, messageId, emoji, delta, s.me.id));
    apply(mine ? -1 : 1);
    try {
      if (mine) await this.core.api.unreact(channelId, messageId, emoji);
      else await this.core.api.react(channelId, messageId, emoji);
    } catch (error) {
      apply(mine ? 1 : -1);
      throw error;
    }
  }

  /** Tells the channel we are typing (throttled; failures do not matter). */
  typing(channelId: string): void {
    const now = Date.now();
    if ((this.typingSent.get(channelId) ?? 0) + TYPING_EVERY_MS > now) return;
    this.typingSent.set(channelId, now);
    void this.core.api.typing(channelId).catch(() => undefined);
  }

  markRead(channelId: string): void {
    if (this.core.update((s) => markedRead(s, channelId))) saveReadMarkers(this.core.state());
  }

  /** A message arrived live: it joins its chat, ends its author's typing, and is read or unread. */
  received(message: Message): void {
    this.core.update((s) => messageReceived(s, message, true));
    if (message.authorId) this.core.update((s) => typingEnded(s, message.channelId, message.authorId!));
    if (message.authorId === this.core.state().me.id) return;
    const visible = this.core.state().activeChannelId === message.channelId && document.visibilityState === 'visible';
    if (visible) this.markRead(message.channelId);
    else if (this.core.update((s) => messageUnseen(s, message))) saveReadMarkers(this.core.state());
  }
}
