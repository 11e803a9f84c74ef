import { useLayoutEffect, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import { MAX_MESSAGE_LENGTH } from '@concord/protocol';
import type { ChannelView } from '@concord/protocol';
import { useAppState, useServices } from '../app/context';
import type { ChatMessage } from '../state/chat';
import { Avatar } from '../ui/Avatar';
import { Close } from '../ui/icons';
import { encodeMentions } from './markup';

interface Props {
  channel: ChannelView;
  canSend: boolean;
  replyTo: ChatMessage | null;
  onCancelReply(): void;
  onSent(): void;
  /** Arrow-up in an empty composer edits our last message. */
  onEditLast(): void;
}

/** The message box: Enter sends, Shift+Enter breaks the line, @ suggests members. */
export function Composer({ channel, canSend, replyTo, onCancelReply, onSent, onEditLast }: Props) {
  const { store } = useServices();
  const members = useAppState((s) => s.guilds[channel.serverId]?.members);
  const [text, setText] = useState('');
  const [chosen, setChosen] = useState<Map<string, string>>(new Map());
  const [suggestIndex, setSuggestIndex] = useState(0);
  const [caret, setCaret] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  /** Where the caret goes once a picked mention is in the text (before the next key is handled). */
  const pendingCaret = useRef<number | null>(null);

  // Grows with its text, up to a limit (then it scrolls).
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight, 240)}px`;
    if (pendingCaret.current !== null) {
      element.setSelectionRange(pendingCaret.current, pendingCaret.current);
      pendingCaret.current = null;
    }
  }, [text]);

  useLayoutEffect(() => {
    if (replyTo) ref.current?.focus();
  }, [replyTo]);

  // The word being typed, if it starts with @: the members whose names start with it.
  const before = text.slice(0, caret);
  const query = /(?:^|\s)@([^\s@]{0,32})$/.exec(before)?.[1];
  const suggestions =
    query === undefined || !members
      ? []
      : Object.values(members)
          .map((m) => ({ id: m.user.id, name: store.displayName(m.user.id, channel.serverId) }))
          .filter((m) => m.name.toLowerCase().startsWith(query.toLowerCase()) || m.name.toLowerCase().includes(` ${query.toLowerCase()}`))
          .slice(0, 8);
  const active = suggestions[Math.min(suggestIndex, suggestions.length - 1)];

  const pick = (suggestion: { id: string; name: string }) => {
    const start = before.lastIndexOf('@');
    const next = `${text.slice(0, start)}@${suggestion.name} ${text.slice(caret)}`;
    setText(next);
    setChosen(new Map(chosen).set(suggestion.name, suggestion.id));
    const position = start + suggestion.name.length + 2;
    setCaret(position);
    pendingCaret.current = position;
  };

  const send = () => {
    const content = encodeMentions(text, chosen);
    if (!content.trim()) return;
    store.chat.send(channel.id, content, replyTo?.id ?? null);
    setText('');
    setChosen(new Map());
    onSent();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (suggestions.length > 0 && active) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const delta = event.key === 'ArrowDown' ? 1 : -1;
        setSuggestIndex((suggestIndex + delta + suggestions.length) % suggestions.length);
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        pick(active);
        return;
      }
    }
    if (event.key === 'Escape' && replyTo) onCancelReply();
    else if (event.key === 'ArrowUp' && !text) {
      event.preventDefault();
      onEditLast();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const tooLong = [...text].length > MAX_MESSAGE_LENGTH;
  return (
    <div className="composer">
      {replyTo && (
        <div className="reply-bar" data-testid="reply-preview">
          <span>
            Replying to <strong>{store.displayName(replyTo.authorId, channel.serverId)}</strong>
          </span>
          <button className="icon-button tiny" aria-label="Cancel reply" data-testid="reply-cancel" onClick={onCancelReply}>
            <Close size={16} />
          </button>
        </div>
      )}
      {suggestions.length > 0 && (
        <ul className="suggestions" role="listbox" aria-label="Members" id="mention-suggestions">
          {suggestions.map((s) => (
            <li
              key={s.id}
              role="option"
              aria-selected={s === active}
              className={s === active ? 'active' : undefined}
              data-testid="mention-suggestion"
              data-user-id={s.id}
              onMouseDown={(event) => {
                event.preventDefault();
                pick(s);
              }}
            >
              <Avatar id={s.id} name={s.name} size={24} />
              {s.name}
            </li>
          ))}
        </ul>
      )}
      <div className={`composer-box${replyTo ? ' replying' : ''}`}>
        <textarea
          ref={ref}
          className="composer-input"
          data-testid="message-input"
          rows={1}
          value={text}
          disabled={!canSend}
          aria-label={`Message #${channel.name}`}
          aria-autocomplete="list"
          aria-controls={suggestions.length ? 'mention-suggestions' : undefined}
          aria-invalid={tooLong || undefined}
          placeholder={canSend ? `Message #${channel.name}` : 'You do not have permission to send messages in this channel.'}
          onChange={(event) => {
            setText(event.target.value);
            setCaret(event.target.selectionStart);
            setSuggestIndex(0);
            if (event.target.value) store.chat.typing(channel.id);
          }}
          onSelect={(event) => setCaret(event.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
        />
      </div>
      <div className="composer-footer">
        <TypingIndicator channelId={channel.id} serverId={channel.serverId} />
        {tooLong && (
          <span className="error small" role="alert">
            {[...text].length - MAX_MESSAGE_LENGTH} characters too many
          </span>
        )}
      </div>
    </div>
  );
}

function TypingIndicator({ channelId, serverId }: { channelId: string; serverId: string }) {
  const { store } = useServices();
  const typing = useAppState((s) => s.typing[channelId]);
  const names = Object.keys(typing ?? {}).map((id) => store.displayName(id, serverId));
  if (names.length === 0) return <span className="typing" aria-hidden="true" />;
  const text =
    names.length === 1
      ? `${names[0]} is typing…`
      : names.length === 2
        ? `${names[0]} and ${names[1]} are typing…`
        : names.length === 3
          ? `${names[0]}, ${names[1]} and ${names[2]} are typing…`
          : 'Several people are typing…';
  return (
    <span className="typing" data-testid="typing-indicator" role="status">
      <span className="typing-dots" aria-hidden="true">
        <i />
        <i />
        <i />
      </span>
      {text}
    </span>
  );
}
