/**
 * What the repository's command-line tools (load tester, benchmarks, screenshots) share: strict
 * flags, and one way to answer a mistake on the command line — one line saying what is wrong, the
 * usage text, exit status 2 — instead of a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line (unknown flag, bad value), told as `tool: message` and the usage. */
export class UsageError extends Error {}

type CommandLine = Omit<ParseArgsConfig, 'strict'>;

/** node:util's parseArgs, strict: an unknown flag, a missing value or a stray argument is a UsageError. */
export function parseCommandLine<T extends CommandLine>(config: T): ReturnType<typeof parseArgs<T & { strict: true }>> {
  try {
    return parseArgs({ ...config, strict: true });
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((error as Error).message);
    }
    throw error;
  }
}

/** A flag's value as a whole number in min..max, or a UsageError naming the flag and what was given. */
export function integerOption(name: string, raw: string | undefined, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${raw}"`);
  return value;
}

/**
 * Runs a tool's main: `--help` (or `-h`) prints the usage; a UsageError prints `name: message`
 * and the usage to stderr and exits 2; any other failure prints its stack and exits 1. When main
 * is done the process exits with process.exitCode, so a leftover handle cannot keep it alive.
 */
export function runCli(name: string, usage: string, main: (args: string[]) => Promise<void>): void {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  main(args).then(
    () => process.exit(),
    (error: unknown) => {
      if (error instanceof UsageError) {
        process.stderr.write(`${name}: ${error.message}\n\n${usage}`);
        process.exit(2);
      }
      process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
