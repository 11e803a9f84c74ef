import { z } from 'zod';

/**
 * Configuration from environment variables: each service declares one zod object of variables,
 * each built with `variable()` so it carries its documentation (the README's configuration table
 * is generated from these schemas) and a parser with a clear message. Parsed once, at start.
 */

/** What the README says about a variable. */
export interface VariableDoc {
  description: string;
  /** The default as shown, e.g. `3001` or `unset: embedded PostgreSQL`. */
  shownDefault: string;
}

const variableDocs = z.registry<VariableDoc>();

/** Turns the trimmed, non-empty text of a variable into its value; throws an Error saying what is expected. */
export type Parser<T> = (text: string) => T;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

interface VariableOptions<T> {
  description: string;
  /** Used when the variable is unset or empty; a function for defaults computed at start. */
  default?: NoInfer<T> | (() => NoInfer<T>);
  /** How the README shows the default, when not simply the value (or when there is none: `unset: …`). */
  shown?: string;
  /** A secret: a bad value is never echoed in the error. */
  secret?: boolean;
}

type Variable<T> = z.ZodType<T, string | undefined>;

/** One documented environment variable. Empty counts as unset. */
export function variable<T>(parse: Parser<T>, options: VariableOptions<T> & { default: NoInfer<T> | (() => NoInfer<T>) }): Variable<T>;
export function variable<T>(parse: Parser<T>, options: VariableOptions<T>): Variable<T | undefined>;
export function variable<T>(parse: Parser<T>, options: VariableOptions<T>): Variable<T | undefined> {
  const { default: fallback } = options;
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx): T | undefined => {
      const text = raw?.trim();
      if (!text) return typeof fallback === 'function' ? (fallback as () => T)() : fallback;
      try {
        return parse(text);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        ctx.addIssue({ code: 'custom', message: options.secret ? message : `${message} (got "${shorten(text)}")` });
        return z.NEVER;
      }
    });
  const shownDefault = options.shown ?? (fallback === undefined || typeof fallback === 'function' ? 'unset' : `\`${String(fallback)}\``);
  variableDocs.add(schema, { description: options.description, shownDefault });
  return schema;
}

/** Long values (PEMs, URLs with passwords) stay out of error messages beyond their start. */
const shorten = (text: string): string => (text.length > 40 ? `${text.slice(0, 12)}…` : text);

const fail = (expected: string): never => {
  throw new Error(`must be ${expected}`);
};

export const parsers = {
  text: (text: string): string => text,
  integer:
    (min: number, max: number): Parser<number> =>
    (text) => {
      const value = /^\d+$/.test(text) ? Number(text) : NaN;
      return Number.isSafeInteger(value) && value >= min && value <= max ? value : fail(`an integer from ${min} to ${max}`);
    },
  port: (text: string): number => parsers.integer(0, 65_535)(text),
  oneOf:
    <const V extends string>(values: readonly V[]): Parser<V> =>
    (text) =>
      (values as readonly string[]).includes(text) ? (text as V) : fail(`one of ${values.join(', ')}`),
  url:
    (...protocols: string[]): Parser<string> =>
    (text) => {
      const protocol = URL.canParse(text) ? new URL(text).protocol.replace(/:$/, '') : '';
      return protocols.includes(protocol) ? text : fail(`a ${protocols.map((p) => `${p}://`).join(' or ')} URL`);
    },
  /** At least `length` characters: shared secrets and tokens. */
  secret:
    (length: number): Parser<string> =>
    (text) =>
      text.length >= length ? text : fail(`at least ${length} characters`),
  /** Comma-separated, blanks dropped. */
  list: (text: string): string[] => text.split(',').map((item) => item.trim()).filter(Boolean),
  /** 1/true or 0/false. */
  flag: (text: string): boolean => (['1', 'true'].includes(text) ? true : ['0', 'false'].includes(text) ? false : fail('1, true, 0 or false')),
};

/** The variables of one service. */
export type VariableSchema = z.ZodObject<Record<string, Variable<unknown>>>;

/** Parses the environment against a service's variables; every bad one is named in one ConfigError. */
export function parseEnv<S extends VariableSchema>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

export interface DocumentedVariable extends VariableDoc {
  name: string;
}

/** The variables of a schema with their documentation, in declaration order. */
export function describeVariables(schema: VariableSchema): DocumentedVariable[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const doc = variableDocs.get(field);
    if (!doc) throw new Error(`${name} is not declared with variable(): it has no documentation`);
    return { name, ...doc };
  });
}

/**
 * The README's configuration table: one row per variable, the services that read it, its default
 * and meaning (a variable read by several services with different defaults or meanings names each).
 */
export function configTable(services: { name: string; variables: VariableSchema }[]): string {
  const rows = new Map<string, { services: string[]; docs: DocumentedVariable[] }>();
  for (const service of services) {
    for (const doc of describeVariables(service.variables)) {
      const row = rows.get(doc.name) ?? { services: [], docs: [] };
      row.services.push(service.name);
      row.docs.push(doc);
      rows.set(doc.name, row);
    }
  }
  const perService = (row: { services: string[]; docs: DocumentedVariable[] }, field: 'shownDefault' | 'description'): string => {
    const values = row.docs.map((doc) => doc[field]);
    return values.every((value) => value === values[0]) ? values[0]! : values.map((value, i) => `${row.services[i]}: ${value}`).join('; ');
  };
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = [...rows].map(([name, row]) => `| \`${name}\` | ${row.services.join(', ')} | ${escape(perService(row, 'shownDefault'))} | ${escape(perService(row, 'description'))} |`);
  return ['| variable | service | default | meaning |', '|---|---|---|---|', ...lines].join('\n');
}
