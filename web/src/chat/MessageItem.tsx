import { memo, useEffect, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import { MessageContent, Permission } from '@concord/protocol';
import { useAppState, useServices } from '../app/context';
import { roleColour, rolesOf } from '../app/MemberList';
import { describeError } from '../describe-error';
import type { ChatMessage } from '../state/chat';
import { Avatar } from '../ui/Avatar';
import { Pencil, Reply, Smile, Trash } from '../ui/icons';
import { decodeMentions, encodeMentions, parseMessage } from './markup';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🔥', '👀'];

function formatTime(iso: string): { short: string; full: string } {
  const date = new Date(iso);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86_400_000);
  const day =
    date.toDateString() === today.toDateString() ? 'Today' : date.toDateString() === yesterday.toDateString() ? 'Yesterday' : date.toLocaleDateString();
  return { short: `${day} at ${time}`, full: date.toLocaleString() };
}

/** A message's text: links, mentions and code as elements React builds; never HTML. */
export function MessageText({ content, serverId }: { content: string; serverId: string }) {
  const { store } = useServices();
  const myId = useAppState((s) => s.me.id);
  return (
    <>
      {parseMessage(content).map((segment, i) => {
        switch (segment.kind) {
          case 'text':
            return <span key={i}>{segment.text}</span>;
          case 'link':
            return (
              <a key={i} href={segment.href} target="_blank" rel="noopener noreferrer nofollow ugc">
                {segment.text}
              </a>
            );
          case 'code':
            return <code key={i}>{segment.text}</code>;
          case 'everyone':
            return (
              <span key={i} className="mention">
                @everyone
              </span>
            );
          case 'mention':
            return (
              <span key={i} className={`mention${segment.userId === myId ? ' me' : ''}`} data-testid="mention" data-user-id={segment.userId}>
                @{store.displayName(segment.userId, serverId)}
              </span>
            );
        }
      })}
    </>
  );
}

interface Props {
  message: ChatMessage;
  /** Follows a message of the same author: no header. */
  grouped: boolean;
  /** The message in the tab order (see ChatPane). */
  tabbable: boolean;
  /** The message this one replies to, if it is loaded. */
  replied: ChatMessage | null;
  editing: boolean;
  onEdit(messageId: string, editing: boolean): void;
  onReply(message: ChatMessage): void;
}

export const MessageItem = memo(function MessageItem({ message, grouped, tabbable, replied, editing, onEdit, onReply }: Props) {
  const { store } = useServices();
  const myId = useAppState((s) => s.me.id);
  // Names and colours follow member changes.
  const author = useAppState((s) => (message.authorId ? s.guilds[message.serverId]?.members[message.authorId] : undefined));
  const roles = useAppState((s) => s.guilds[message.serverId]?.roles);
  const [picker, setPicker] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mine = message.authorId === myId;
  const name = store.displayName(message.authorId, message.serverId);
  const colour = author && roles ? roleColour(rolesOf(author, roles).find((r) => r.colour)) : undefined;
  const mentioned = !mine && (message.mentions.includes(myId) || message.mentionEveryone);
  const canManage = store.can(message.serverId, Permission.MANAGE_MESSAGES, message.channelId);
  const canReact = store.can(message.serverId, Permission.ADD_REACTIONS, message.channelId);
  const canSend = store.can(message.serverId, Permission.SEND_MESSAGES, message.channelId);
  const time = formatTime(message.createdAt);

  const attempt = (action: () => Promise<void>) => {
    setError(null);
    action().catch((e) => setError(describeError(e)));
  };
  const react = (emoji: string) => {
    setPicker(false);
    attempt(() => store.chat.toggleReaction(message.channelId, message.id, emoji));
  };

  const classes = ['message', grouped ? 'grouped' : 'first', mentioned && 'mentioned', message.pending && `pending ${message.pending}`, editing && 'editing']
    .filter(Boolean)
    .join(' ');
  return (
    <article
      className={classes}
      data-testid="message-item"
      data-message-id={message.pending ? undefined : message.id}
      data-author-id={message.authorId ?? undefined}
      data-pending={message.pending}
      data-mentioned={mentioned ? 'true' : undefined}
      aria-label={`${name}, ${time.short}`}
      id={`message-${message.id}`}
      tabIndex={tabbable ? 0 : -1}
    >
      {message.replyToId && <ReplyReference message={replied} serverId={message.serverId} />}
      {grouped ? (
        <time className="message-gutter-time" dateTime={message.createdAt} title={time.full}>
          {time.short.split(' at ')[1]}
        </time>
      ) : (
        <>
          <span className="message-avatar">
            <Avatar id={message.authorId ?? 'deleted'} name={name} size={40} />
          </span>
          <header className="message-header">
            <span className="message-author" style={colour ? { color: colour } : undefined}>
              {name}
            </span>
            <time className="message-time" dateTime={message.createdAt} title={time.full}>
              {time.short}
            </time>
          </header>
        </>
      )}
      {editing ? (
        <EditBox message={message} onDone={() => onEdit(message.id, false)} />
      ) : (
        <div className="message-content" data-testid="message-content">
          <MessageText content={message.content} serverId={message.serverId} />
          {message.editedAt && (
            <span className="edited" title={formatTime(message.editedAt).full} data-testid="message-edited">
              {' '}
              (edited)
            </span>
          )}
        </div>
      )}
      {message.pending === 'failed' && (
        <p className="send-failed" role="alert">
          Not sent{message.error ? `: ${message.error}` : '.'}{' '}
          <button className="link" data-testid="message-retry" onClick={() => store.chat.retrySend(message.channelId, message.nonce!)}>
            Retry
          </button>{' '}
          ·{' '}
          <button className="link" onClick={() => store.chat.discardPending(message.channelId, message.nonce!)}>
            Discard
          </button>
        </p>
      )}
      {message.reactions.length > 0 && (
        <div className="reactions" role="group" aria-label="Reactions">
          {message.reactions.map((reaction) => (
            <button
              key={reaction.emoji}
              className={`reaction${reaction.me ? ' me' : ''}`}
              aria-pressed={reaction.me}
              aria-label={`${reaction.emoji} ${reaction.count} ${reaction.count === 1 ? 'reaction' : 'reactions'}${reaction.me ? ', including yours' : ''}`}
              data-testid="reaction"
              data-emoji={reaction.emoji}
              data-count={reaction.count}
              disabled={!canReact && !reaction.me}
              onClick={() => react(reaction.emoji)}
            >
              <span aria-hidden="true">{reaction.emoji}</span>
              <span className="reaction-count" aria-hidden="true">
                {reaction.count}
              </span>
            </button>
          ))}
        </div>
      )}
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
      {!message.pending && !editing && (
        <div className="message-actions" role="toolbar" aria-label="Message actions">
          {canReact && (
            <button className="icon-button" aria-label="Add reaction" title="Add reaction" aria-expanded={picker} data-testid="message-react" onClick={() => setPicker(!picker)}>
              <Smile size={18} />
            </button>
          )}
          {canSend && (
            <button className="icon-button" aria-label="Reply" title="Reply" data-testid="message-reply" onClick={() => onReply(message)}>
              <Reply size={18} />
            </button>
          )}
          {mine && (
            <button className="icon-button" aria-label="Edit" title="Edit" data-testid="message-edit" onClick={() => onEdit(message.id, true)}>
              <Pencil size={18} />
            </button>
          )}
          {(mine || canManage) && (
            <button
              className="icon-button danger-icon"
              aria-label="Delete message"
              title="Delete"
              data-testid="message-delete"
              onClick={() => attempt(() => store.chat.deleteMessage(message.channelId, message.id))}
            >
              <Trash size={18} />
            </button>
          )}
        </div>
      )}
      {picker && (
        <div className="reaction-picker" role="menu" aria-label="Pick a reaction" data-testid="reaction-picker">
          {QUICK_REACTIONS.map((emoji) => (
            <button key={emoji} role="menuitem" className="icon-button" aria-label={`React with ${emoji}`} data-testid="reaction-option" data-emoji={emoji} onClick={() => react(emoji)}>
              {emoji}
            </button>
          ))}
        </div>
      )}
    </article>
  );
});

function ReplyReference({ message, serverId }: { message: ChatMessage | null; serverId: string }) {
  const { store } = useServices();
  if (!message) {
    return (
      <div className="reply-ref muted" data-testid="reply-ref">
        <span className="reply-spine" aria-hidden="true" />
        <span className="small">Replying to an earlier message</span>
      </div>
    );
  }
  const name = store.displayName(message.authorId, serverId);
  return (
    <button
      className="reply-ref"
      data-testid="reply-ref"
      data-reply-to={message.id}
      aria-label={`Replying to ${name}: ${message.content.slice(0, 80)}`}
      onClick={() => {
        const target = document.getElementById(`message-${message.id}`);
        target?.scrollIntoView({ block: 'center', behavior: 'smooth' });
        target?.classList.add('flash');
        setTimeout(() => target?.classList.remove('flash'), 1_200);
      }}
    >
      <span className="reply-spine" aria-hidden="true" />
      <Avatar id={message.authorId ?? 'deleted'} name={name} size={16} />
      <span className="reply-author">{name}</span>
      <span className="reply-text ellipsis">
        <MessageText content={message.content} serverId={serverId} />
      </span>
    </button>
  );
}

function EditBox({ message, onDone }: { message: ChatMessage; onDone: () => void }) {
  const { store } = useServices();
  const [initial] = useState(() => decodeMentions(message.content, (id) => store.displayName(id, message.serverId)));
  const [text, setText] = useState(initial.text);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    element.focus();
    element.setSelectionRange(element.value.length, element.value.length);
  }, []);

  const save = async () => {
    const content = encodeMentions(text, initial.chosen);
    if (content === message.content) return onDone();
    if (!MessageContent.safeParse(content).success) return setError('A message needs some text, at most 4000 characters.');
    try {
      await store.chat.editMessage(message.channelId, message.id, content);
      onDone();
    } catch (e) {
      setError(describeError(e));
    }
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') onDone();
    else if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      void save();
    }
  };
  return (
    <div className="edit-box">
      <textarea ref={ref} className="composer-input" aria-label="Edit message" data-testid="message-edit-input" value={text} rows={1} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} />
      <p className="small muted">
        escape to{' '}
        <button className="link" onClick={onDone}>
          cancel
        </button>{' '}
        • enter to{' '}
        <button className="link" data-testid="message-edit-save" onClick={() => void save()}>
          save
        </button>
      </p>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
