import { z } from 'zod';
import { ConfigError, describeVariables, parseEnv, parsers, variable } from './config';
import { shellConfigOf, shellVariables } from './shell-config';

const schema = z.object({
  ...shellVariables({ opsPort: 9100 }),
  EXAMPLE_PORT: variable(parsers.port, { default: 3001, description: 'where it listens' }),
  EXAMPLE_URL: variable(parsers.url('redis', 'rediss'), { shown: 'unset: in-process', description: 'the store' }),
  EXAMPLE_ORIGINS: variable(parsers.list, { default: [], shown: 'none', description: 'allowed origins' }),
});

test('defaults fill what is unset or empty, and values are parsed into their types', () => {
  const defaults = parseEnv(schema, { EXAMPLE_URL: '  ' });
  expect(defaults).toEqual({
    LOG_LEVEL: 'info',
    LOG_FORMAT: undefined,
    OPS_PORT: 9100,
    OPS_HOST: '0.0.0.0',
    METRICS_TOKEN: undefined,
    SHUTDOWN_TIMEOUT_MS: 10_000,
    EXAMPLE_PORT: 3001,
    EXAMPLE_URL: undefined,
    EXAMPLE_ORIGINS: [],
  });
  expect(shellConfigOf(defaults)).toEqual({ logLevel: 'info', opsPort: 9100, opsHost: '0.0.0.0', shutdownTimeoutMs: 10_000 });
  const parsed = parseEnv(schema, { EXAMPLE_PORT: ' 0 ', EXAMPLE_URL: 'redis://127.0.0.1:6379', EXAMPLE_ORIGINS: 'https://a.example, ,https://b.example', LOG_FORMAT: 'json' });
  expect(parsed).toMatchObject({ EXAMPLE_PORT: 0, EXAMPLE_URL: 'redis://127.0.0.1:6379', EXAMPLE_ORIGINS: ['https://a.example', 'https://b.example'], LOG_FORMAT: 'json' });
});

test.each([
  [{ EXAMPLE_PORT: '70000' }, 'EXAMPLE_PORT must be an integer from 0 to 65535 (got "70000")'],
  [{ EXAMPLE_PORT: '-1' }, 'EXAMPLE_PORT must be an integer from 0 to 65535 (got "-1")'],
  [{ EXAMPLE_PORT: '30O1' }, 'EXAMPLE_PORT must be an integer from 0 to 65535 (got "30O1")'],
  [{ EXAMPLE_URL: 'http://127.0.0.1:6379' }, 'EXAMPLE_URL must be a redis:// or rediss:// URL (got "http://127.0.0.1:6379")'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
  [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters'],
  [{ SHUTDOWN_TIMEOUT_MS: '10s' }, 'SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 600000 (got "10s")'],
])('%j is refused with a message naming the variable', (env, message) => {
  expect(() => parseEnv(schema, env)).toThrow(new ConfigError(`invalid configuration: ${message}`));
});

test('every bad variable is named at once, and a long value is not echoed whole', () => {
  const secretLike = 'x'.repeat(60);
  let error: unknown;
  try {
    parseEnv(schema, { EXAMPLE_PORT: 'many', EXAMPLE_URL: secretLike });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(/EXAMPLE_PORT must be .*; EXAMPLE_URL must be/);
  expect((error as Error).message).not.toContain(secretLike);
});

test('every variable carries its description and shown default', () => {
  const docs = describeVariables(schema);
  expect(docs.map((doc) => doc.name)).toEqual(Object.keys(schema.shape));
  expect(docs.find((doc) => doc.name === 'EXAMPLE_PORT')).toEqual({ name: 'EXAMPLE_PORT', description: 'where it listens', shownDefault: '`3001`' });
  expect(docs.find((doc) => doc.name === 'EXAMPLE_URL')).toMatchObject({ shownDefault: 'unset: in-process' });
  expect(() => describeVariables(z.object({ UNDOCUMENTED: z.string().optional() }) as never)).toThrow(/UNDOCUMENTED/);
});
