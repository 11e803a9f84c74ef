import { describe, expect, it } from '@jest/globals';
import { decodeMentions, encodeMentions, parseMessage, safeHref } from './markup';

const ID = '0190a0b0-c0d0-7000-8000-000000000001';

describe('parseMessage', () => {
  it('keeps HTML as text: nothing in a message becomes markup', () => {
    const html = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    expect(parseMessage(html)).toEqual([{ kind: 'text', text: html }]);
  });

  it('links http(s) URLs only, without the sentence’s punctuation', () => {
    expect(parseMessage('see https://example.com/a?b=1. ok')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: '. ok' },
    ]);
    expect(parseMessage('javascript:alert(1) data:text/html,x')).toEqual([{ kind: 'text', text: 'javascript:alert(1) data:text/html,x' }]);
    expect(parseMessage('(http://a.example)')[1]).toEqual({ kind: 'link', text: 'http://a.example', href: 'http://a.example/' });
  });

  it('does not let a quote end a URL inside an attribute', () => {
    const segments = parseMessage('https://x.example/"onmouseover="alert(1)');
    expect(segments[0]).toEqual({ kind: 'link', text: 'https://x.example/', href: 'https://x.example/' });
    expect(segments.slice(1)).toEqual([{ kind: 'text', text: '"onmouseover="alert(1)' }]);
  });

  it('finds mentions, @everyone and inline code', () => {
    expect(parseMessage(`hi <@${ID.toUpperCase()}> and @everyone, \`<b>\``)).toEqual([
      { kind: 'text', text: 'hi ' },
      { kind: 'mention', userId: ID },
      { kind: 'text', text: ' and ' },
      { kind: 'everyone' },
      { kind: 'text', text: ', ' },
      { kind: 'code', text: '<b>' },
    ]);
    expect(parseMessage('mail@everyone.example')).toEqual([{ kind: 'text', text: 'mail@everyone.example' }]);
  });

  it('safeHref refuses other schemes', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('https://ok.example/x')).toBe('https://ok.example/x');
  });
});

describe('mentions in the composer', () => {
  it('encodes chosen names, longest first, and decodes them back', () => {
    const chosen = new Map([
      ['Ann', 'a'],
      ['Ann Lee', ID],
    ]);
    expect(encodeMentions('@Ann Lee and @Ann, not @Anna', chosen)).toBe(`<@${ID}> and <@a>, not @Anna`);
    const decoded = decodeMentions(`hey <@${ID}>`, (id) => (id === ID ? 'Ann Lee' : undefined));
    expect(decoded.text).toBe('hey @Ann Lee');
    expect(decoded.chosen.get('Ann Lee')).toBe(ID);
  });
});
