import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/*
 * `npm run typecheck` must cover every TypeScript file of the repository: a file outside every
 * tsconfig (scripts/ once was) can break without anyone noticing — `npm run bench:web` did.
 */

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules/.bin/tsc');

test('every TypeScript file of the repository is in a project that `npm run typecheck` checks', () => {
  const typecheck = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.typecheck!;
  const projects = [...typecheck.matchAll(/tsc -p (\S+)/g)].map((match) => match[1]!);
  expect(projects.length).toBeGreaterThan(0);

  const checked = new Set<string>();
  for (const project of projects) {
    const listed = execFileSync(TSC, ['-p', project, '--listFilesOnly'], { cwd: ROOT, encoding: 'utf8' });
    for (const file of listed.split('\n')) if (file && !file.includes('/node_modules/')) checked.add(path.relative(ROOT, file));
  }
  // Tracked and new (not ignored) files alike.
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.ts', '*.tsx', '*.mts', '*.cts'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  expect(files).toContain('scripts/bench-web.ts');
  expect(files.filter((file) => !checked.has(file))).toEqual([]);
}, 60_000);
