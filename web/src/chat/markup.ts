/**
 * A message's text as the chat shows it: plain text with links, mentions and inline code picked
 * out. The result is data that React renders as text nodes and elements it builds itself, so
 * nothing in a message can ever become HTML; links are only ever http(s) URLs.
 */
export type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'link'; text: string; href: string }
  | { kind: 'mention'; userId: string }
  | { kind: 'everyone' }
  | { kind: 'code'; text: string };

// Alternatives in one pass, first match wins: `code`, <@uuid>, @everyone, an http(s) URL.
const TOKEN =
  /`([^`\n]+)`|<@([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})>|(^|[^\w@])@everyone(?!\w)|\bhttps?:\/\/[^\s<>"'`]+/g;
/** Punctuation that ends a sentence rather than a URL. */
const TRAILING = /[.,!?;:'")\]}]+$/;

export function safeHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export function parseMessage(content: string): Segment[] {
  const segments: Segment[] = [];
  const text = (value: string) => {
    if (!value) return;
    const last = segments[segments.length - 1];
    if (last?.kind === 'text') last.text += value;
    else segments.push({ kind: 'text', text: value });
  };
  let index = 0;
  for (const match of content.matchAll(TOKEN)) {
    const start = match.index;
    text(content.slice(index, start));
    index = start + match[0].length;
    if (match[1] !== undefined) segments.push({ kind: 'code', text: match[1] });
    else if (match[2] !== undefined) segments.push({ kind: 'mention', userId: match[2].toLowerCase() });
    else if (match[3] !== undefined) {
      text(match[3]);
      segments.push({ kind: 'everyone' });
    } else {
      // A URL, without the punctuation that follows it in a sentence.
      const [raw] = match;
      const trail = TRAILING.exec(raw)?.[0] ?? '';
      const url = raw.slice(0, raw.length - trail.length);
      const href = safeHref(url);
      if (href) segments.push({ kind: 'link', text: url, href });
      else text(url);
      text(trail);
    }
  }
  text(content.slice(index));
  return segments;
}

/**
 * The composer writes mentions as `@Name`; the wire form is `<@userId>`. Names chosen from the
 * suggestions are remembered with their ids and replaced, longest first (so "@Ann Lee" is not
 * taken for "@Ann").
 */
export function encodeMentions(text: string, chosen: ReadonlyMap<string, string>): string {
  const names = [...chosen.keys()].sort((a, b) => b.length - a.length);
  if (names.length === 0) return text;
  const escaped = names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return text.replace(new RegExp(`@(${escaped.join('|')})(?![\\w])`, 'g'), (_all, name: string) => `<@${chosen.get(name)}>`);
}

/** The text to put back in the composer when editing: `<@id>` shown as `@Name`. */
export function decodeMentions(content: string, nameOf: (userId: string) => string | undefined): { text: string; chosen: Map<string, string> } {
  const chosen = new Map<string, string>();
  const text = content.replace(/<@([0-9a-fA-F-]{36})>/g, (all, id: string) => {
    const name = nameOf(id.toLowerCase());
    if (!name) return all;
    chosen.set(name, id.toLowerCase());
    return `@${name}`;
  });
  return { text, chosen };
}
