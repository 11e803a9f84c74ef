import { z } from 'zod';

/**
 * The one rule for text a user sends that others see (names, topics, reasons, messages). Every
 * string field of a request is one of these, an enum, an id or a pattern (user names, invite
 * codes); so the API never hands PostgreSQL a character it cannot store (NUL) and no name can hide
 * or reorder what is shown around it.
 *
 * - Normalised to NFC first, so that lengths are counted and names compared on one spelling.
 * - Control characters (C0, DEL, C1) are refused; multi-line text allows tab, line feed and
 *   carriage return. Lone surrogates (not text, and not encodable as UTF-8) are refused.
 * - Single-line text also refuses the Unicode line/paragraph separators and the bidi embedding,
 *   override and isolate controls (U+202A–U+202E, U+2066–U+2069), which can make a name display
 *   reversed or spill its direction into the text around it. Message bodies keep them: writers of
 *   right-to-left languages use them and the client renders each message in its own element.
 * - Lengths count code points after normalisation and trimming (as PostgreSQL's char_length does).
 */

const LONE_SURROGATE = /\p{Cs}/u;
const SINGLE_LINE_FORBIDDEN = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const MULTI_LINE_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/u;

export const TEXT_ERRORS = {
  control: 'must not contain control characters',
  lineBreak: 'must be one line: no control characters, line breaks or bidi override/isolate characters',
  surrogate: 'must be valid Unicode (no lone surrogates)',
} as const;

/** Code points, as PostgreSQL's char_length counts them. */
export const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

/** Refuses lone surrogates before normalising (normalize() keeps them; UTF-8 cannot carry them). */
const wellFormed = z.string().refine((text) => !LONE_SURROGATE.test(text), TEXT_ERRORS.surrogate);

const lengthChecked = (schema: z.ZodType<string>, min: number, max: number) =>
  schema
    .refine((text) => codePoints(text) >= min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`)
    .refine((text) => codePoints(text) <= max, `must be at most ${max} characters`);

/** A name or short label: one line, trimmed, `min..max` characters. */
export const singleLineText = (min: number, max: number) =>
  lengthChecked(
    wellFormed
      .transform((text) => text.normalize('NFC').trim())
      .refine((text) => !SINGLE_LINE_FORBIDDEN.test(text), TEXT_ERRORS.lineBreak),
    min,
    max,
  ).meta({ description: `one line of ${min}..${max} characters (NFC, trimmed); no control, line-separator or bidi override/isolate characters` });

/**
 * A body that may span lines (a message, a topic): at most `max` characters, tab and line breaks
 * allowed. `trim` drops surrounding white space (a topic); a message keeps its own (indented code).
 * Either way it must not be only white space when `min` is 1.
 */
export const multiLineText = (min: number, max: number, options: { trim: boolean }) =>
  wellFormed
    .transform((text) => {
      const normal = text.normalize('NFC');
      return options.trim ? normal.trim() : normal;
    })
    .refine((text) => !MULTI_LINE_FORBIDDEN.test(text), TEXT_ERRORS.control)
    .refine((text) => min === 0 || text.trim().length > 0, 'must not be empty')
    .refine((text) => codePoints(text) <= max, `must be at most ${max} characters`)
    .meta({ description: `${min}..${max} characters (NFC); line breaks and tabs allowed, no other control characters` });

/**
 * An opaque token the client chooses and gets back unchanged (a message nonce): printable, one
 * line, not normalised (the client matches it byte for byte).
 */
export const opaqueToken = (max: number) =>
  wellFormed.min(1).max(max).refine((text) => !SINGLE_LINE_FORBIDDEN.test(text), TEXT_ERRORS.lineBreak);
