import { spawn } from 'node:child_process';
import path from 'node:path';

/*
 * The repository's command-line tools answer a mistake on the command line with one line saying
 * what is wrong and the usage text, exit status 2 — never a stack trace — and --help with the usage.
 */

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const TOOLS = [
  { name: 'loadtest', script: 'loadtest/src/main.ts', usage: 'npm run loadtest -- [options]', badValue: ['--rooms', 'two'], valueError: '--rooms must be a whole number, got "two"' },
  { name: 'bench:chat', script: 'bench/chat.ts', usage: 'DATABASE_URL=postgres://… REDIS_URL=redis://… npm run bench:chat -- [options]', badValue: ['--clients', '0'], valueError: '--clients takes counts in 1..5000' },
  { name: 'bench:events', script: 'bench/control-events.ts', usage: 'npm run bench:events -- [options]', badValue: ['--rooms', 'x'], valueError: '--rooms must be an integer in 1..500, got "x"' },
  { name: 'bench:failover', script: 'bench/failover.ts', usage: 'npm run bench:failover -- [options]', badValue: ['--kills', 'x'], valueError: '--kills must be an integer in 1..1000, got "x"' },
  { name: 'bench:udp-floor', script: 'bench/udp-receive-floor.ts', usage: 'npm run bench:udp-floor -- [options]', badValue: ['--sockets', 'x'], valueError: '--sockets must be an integer in 1..1000, got "x"' },
  { name: 'bench:web', script: 'scripts/bench-web.ts', usage: 'npm run bench:web -- [options]', badValue: ['--runs', 'x'], valueError: '--runs must be an integer in 1..100, got "x"' },
  { name: 'bench:lighthouse', script: 'scripts/bench-lighthouse.ts', usage: 'npm run bench:lighthouse -- [options]', badValue: ['--runs', 'x'], valueError: '--runs must be an integer in 1..20, got "x"' },
  { name: 'sim:autoscale', script: 'scripts/sim-autoscale.ts', usage: 'npm run sim:autoscale -- [options]', badValue: ['--peak', 'x'], valueError: '--peak must be an integer in 1..200, got "x"' },
  { name: 'screenshots', script: 'scripts/screenshots.ts', usage: 'npx tsx scripts/screenshots.ts [DIR]', badValue: ['a', 'b'], valueError: 'one output directory at most, got 2' },
];

function expectUsageError(ran: Ran, tool: (typeof TOOLS)[number], message: string): void {
  expect(ran.code).toBe(2);
  expect(ran.stdout).toBe('');
  const [first, blank, usage] = ran.stderr.split('\n');
  expect(first).toContain(`${tool.name}: ${message}`);
  expect([blank, usage]).toEqual(['', tool.usage]);
  expect(ran.stderr).not.toMatch(/^\s+at /m);
}

describe.each(TOOLS)('$name', (tool) => {
  test.concurrent('an unknown flag is a one-line usage error, exit 2, no stack trace', async () => {
    expectUsageError(await run(tool.script, ['--target', 'x']), tool, "Unknown option '--target'");
  }, 60_000);

  test.concurrent('a bad value is a one-line usage error, exit 2', async () => {
    expectUsageError(await run(tool.script, tool.badValue), tool, tool.valueError);
  }, 60_000);

  test.concurrent('--help prints the usage and exits 0', async () => {
    const ran = await run(tool.script, ['--help']);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout.split('\n')[0]).toBe(tool.usage);
  }, 60_000);
});
