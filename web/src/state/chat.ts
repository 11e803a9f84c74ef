import type { Message, MessageUpdatedEvent, ReactionSummary } from '@concord/protocol';

/** A message as the chat shows it: sent ones, and our own still on their way (`pending`). */
export interface ChatMessage extends Message {
  /** Only on our own messages not yet confirmed: `sending` (maybe retrying) or `failed` (retry offered). */
  pending?: 'sending' | 'failed';
  /** Why the last try failed, in plain words. */
  error?: string;
}

/** The loaded part of one channel's history: a contiguous run ending at the newest message. */
export interface ChannelChat {
  /** Sent messages in id (= time) order, then our pending ones in the order they were written. */
  messages: ChatMessage[];
  /** The latest page has been loaded (the chat is live from then on). */
  loaded: boolean;
  /** Older messages exist on the server. */
  hasMore: boolean;
  loadingOlder: boolean;
  error: string | null;
}

export const EMPTY_CHAT: ChannelChat = { messages: [], loaded: false, hasMore: true, loadingOlder: false, error: null };

const PENDING_PREFIX = 'pending:';
export const pendingId = (nonce: string): string => `${PENDING_PREFIX}${nonce}`;
export const isPending = (message: ChatMessage): boolean => message.pending !== undefined;

/** UUIDv7 ids sort as text in time order. */
const byId = (a: ChatMessage, b: ChatMessage): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Adds sent messages (a page or a live one) to the loaded ones: each id once, in order, and a
 * pending message of ours gives way to the sent message carrying its nonce. The newest version
 * of a message wins (an edit seen live is not undone by an older page).
 */
export function mergeMessages(current: readonly ChatMessage[], incoming: readonly Message[], myId: string): ChatMessage[] {
  const sent = new Map<string, ChatMessage>();
  const pending: ChatMessage[] = [];
  for (const message of current) (isPending(message) ? pending.push(message) : sent.set(message.id, message));
  const confirmed = new Set<string>();
  for (const message of incoming) {
    const known = sent.get(message.id);
    if (!known || (message.editedAt ?? '') >= (known.editedAt ?? '')) sent.set(message.id, message);
    if (message.nonce && message.authorId === myId) confirmed.add(message.nonce);
  }
  const stillPending = pending.filter((message) => !message.nonce || !confirmed.has(message.nonce));
  return [...[...sent.values()].sort(byId), ...stillPending];
}

export function updateMessage(messages: readonly ChatMessage[], event: MessageUpdatedEvent): ChatMessage[] {
  return messages.map((message) =>
    message.id === event.id
      ? { ...message, content: event.content, editedAt: event.editedAt, mentions: event.mentions, mentionEveryone: event.mentionEveryone }
      : message,
  );
}

/** Removes a message; replies to it lose their reference, as the server does. */
export function removeMessage(messages: readonly ChatMessage[], id: string): ChatMessage[] {
  return messages.filter((message) => message.id !== id).map((message) => (message.replyToId === id ? { ...message, replyToId: null } : message));
}

/** One reaction more or less; `mine` says whether the reacting user is the viewer. */
export function applyReaction(reactions: readonly ReactionSummary[], emoji: string, delta: 1 | -1, mine: boolean): ReactionSummary[] {
  const existing = reactions.find((reaction) => reaction.emoji === emoji);
  if (!existing) return delta > 0 ? [...reactions, { emoji, count: 1, me: mine }] : [...reactions];
  // Our own change may already be applied (optimistically): do not count it twice.
  if (mine && existing.me === delta > 0) return [...reactions];
  const count = existing.count + delta;
  if (count <= 0) return reactions.filter((reaction) => reaction !== existing);
  return reactions.map((reaction) => (reaction === existing ? { ...reaction, count, me: mine ? delta > 0 : reaction.me } : reaction));
}

export function withReaction(messages: readonly ChatMessage[], messageId: string, emoji: string, delta: 1 | -1, mine: boolean): ChatMessage[] {
  return messages.map((message) => (message.id === messageId ? { ...message, reactions: applyReaction(message.reactions, emoji, delta, mine) } : message));
}

/** The newest sent message, the cursor for "what did I miss". */
export function newestSent(messages: readonly ChatMessage[]): ChatMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (!isPending(messages[i]!)) return messages[i];
  return undefined;
}

export function oldestSent(messages: readonly ChatMessage[]): ChatMessage | undefined {
  return messages.find((message) => !isPending(message));
}

/** A nonce per send, kept across its retries: unique enough for one user's sends. */
export function newNonce(): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${Date.now().toString(36)}-${random[0]!.toString(36)}${random[1]!.toString(36)}`;
}
