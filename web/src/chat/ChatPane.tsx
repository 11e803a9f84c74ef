import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Permission } from '@concord/protocol';
import type { ChannelView } from '@concord/protocol';
import { useAppState, useServices } from '../app/context';
import type { ChatMessage } from '../state/chat';
import { Hash } from '../ui/icons';
import { Composer } from './Composer';
import { MessageItem } from './MessageItem';

/** Messages by the same author within this long of each other share one header. */
const GROUP_MS = 7 * 60_000;
/** Older history loads when the view comes this close to the top. */
const LOAD_MARGIN_PX = 400;

/** A text channel: its history (more loads on scrolling up), who is typing, and the composer. */
export function ChatPane({ channel }: { channel: ChannelView }) {
  const { store } = useServices();
  const chat = useAppState((s) => s.chats[channel.id]);
  const myId = useAppState((s) => s.me.id);
  // Where we had read up to when the channel opened: the "new messages" line goes after it.
  const [readUpTo] = useState(() => store.state.lastRead[channel.id] ?? null);
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [editingId, setEditingId] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const messages = chat?.messages ?? [];

  // Stable, so that a message re-renders only when it changes.
  const onEdit = useCallback((messageId: string, editing: boolean) => setEditingId((current) => (editing ? messageId : current === messageId ? null : current)), []);

  const maybeLoadOlder = useCallback(() => {
    const element = scroller.current;
    if (!element) return;
    // column-reverse: scrollTop is 0 at the bottom and negative upwards.
    const fromTop = element.scrollHeight - element.clientHeight + element.scrollTop;
    if (fromTop < LOAD_MARGIN_PX) void store.chat.loadOlder(channel.id);
  }, [store, channel.id]);

  // A short page may not fill the view: keep loading until it scrolls or history ends.
  useEffect(() => {
    if (chat?.loaded && chat.hasMore && !chat.loadingOlder) maybeLoadOlder();
  }, [chat?.loaded, chat?.hasMore, chat?.loadingOlder, messages.length, maybeLoadOlder]);

  // Our own new message brings the view back to the bottom.
  const lastMine = [...messages].reverse().find((m) => m.authorId === myId)?.id;
  useLayoutEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [lastMine]);

  const canSend = store.can(channel.serverId, Permission.SEND_MESSAGES, channel.id);
  const canRead = store.can(channel.serverId, Permission.READ_MESSAGE_HISTORY, channel.id);
  const firstUnread = readUpTo ? messages.find((m) => !m.pending && m.id > readUpTo && m.authorId !== myId)?.id : undefined;
  const byId = new Map(messages.map((m) => [m.id, m]));

  // One message is in the tab order (the latest at first); the arrow keys move between them, and
  // Tab from a message reaches its actions.
  const onKeyDown = (event: React.KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (!target.matches('article.message') || (event.key !== 'ArrowUp' && event.key !== 'ArrowDown' && event.key !== 'Home' && event.key !== 'End')) return;
    const articles = [...(scroller.current?.querySelectorAll<HTMLElement>('article.message') ?? [])];
    const index = articles.indexOf(target);
    const next = event.key === 'Home' ? articles[0] : event.key === 'End' ? articles.at(-1) : articles[index + (event.key === 'ArrowDown' ? 1 : -1)];
    if (!next) return;
    event.preventDefault();
    target.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  };

  return (
    <section className="chat" aria-label={`#${channel.name}`}>
      <div className="messages-scroller" ref={scroller} onScroll={maybeLoadOlder} data-testid="message-list">
        <div className="messages" role="log" aria-live="polite" aria-relevant="additions" aria-label={`Messages in #${channel.name}`} onKeyDown={onKeyDown}>
          {chat?.loaded && !chat.hasMore && (
            <div className="channel-start">
              <span className="channel-start-icon" aria-hidden="true">
                <Hash size={40} />
              </span>
              <h2>Welcome to #{channel.name}!</h2>
              <p className="muted">This is the start of the #{channel.name} channel.{channel.topic ? ` ${channel.topic}` : ''}</p>
            </div>
          )}
          {chat?.loadingOlder && <div className="loading small" role="status" aria-label="Loading older messages" />}
          {!canRead && <p className="muted pad">You do not have permission to read the history of this channel.</p>}
          {chat?.error && (
            <p className="error pad" role="alert">
              {chat.error}{' '}
              <button className="link" onClick={() => void (chat.loaded ? store.chat.loadOlder(channel.id) : store.chat.loadLatest(channel.id, true))}>
                Try again
              </button>
            </p>
          )}
          {!chat?.loaded && !chat?.error && canRead && <div className="loading" role="status" aria-label="Loading messages" />}
          {messages.map((message, index) => {
            const previous = messages[index - 1];
            const grouped =
              !!previous &&
              previous.authorId === message.authorId &&
              !message.replyToId &&
              message.id !== firstUnread &&
              Date.parse(message.createdAt) - Date.parse(previous.createdAt) < GROUP_MS;
            return (
              <div key={message.pending ? message.nonce : message.id}>
                {message.id === firstUnread && (
                  <div className="new-divider" role="separator" aria-label="New messages" data-testid="new-messages">
                    <span>New</span>
                  </div>
                )}
                <MessageItem
                  message={message}
                  grouped={grouped}
                  tabbable={index === messages.length - 1}
                  replied={message.replyToId ? (byId.get(message.replyToId) ?? null) : null}
                  editing={editingId === message.id}
                  onEdit={onEdit}
                  onReply={setReplyTo}
                />
              </div>
            );
          })}
        </div>
      </div>
      <Composer
        channel={channel}
        canSend={canSend}
        replyTo={replyTo}
        onCancelReply={() => setReplyTo(null)}
        onSent={() => setReplyTo(null)}
        onEditLast={() => {
          const last = [...messages].reverse().find((m) => m.authorId === myId && !m.pending);
          if (last) setEditingId(last.id);
        }}
      />
    </section>
  );
}
