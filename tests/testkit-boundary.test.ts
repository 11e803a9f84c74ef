import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/*
 * Test support lives in testkit/ and in test files, and production code never imports it: a
 * service that did would ship fixtures (fixed secrets, recording publishers) and load test
 * dependencies at run time.
 */

const ROOT = path.resolve(__dirname, '..');
/** The packages whose non-test sources run in production. */
const PRODUCTION_PACKAGES = ['protocol', 'registry', 'service-shell', 'sfu', 'signaling', 'api', 'web', 'standalone'];
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
/** Test code: test files, and the folders that hold nothing else. */
const TEST_CODE = /(\.test(\.[cm]?[jt]sx?)?$)|(^|\/)(tests?|__tests__|testkit|bench)(\/|$)/;
const SPECIFIER = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*['"]([^'"]+)['"]/g;

/** Where `specifier`, imported by `file`, points in the repository (undefined: a package from the registry or Node). */
function target(file: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
  const workspace = /^@concord\/([^/]+)(\/.*)?$/.exec(specifier);
  return workspace ? `${workspace[1]}${workspace[2] ?? ''}` : undefined;
}

/** The imports of `file` (its text `source`) that reach test code. */
function testImportsOf(file: string, source: string): string[] {
  return [...source.matchAll(SPECIFIER)]
    .map((match) => match[1]!)
    .filter((specifier) => {
      const resolved = target(file, specifier);
      return resolved !== undefined && TEST_CODE.test(resolved);
    });
}

test('the scanner sees an import of testkit or of a test file', () => {
  expect(testImportsOf('api/src/app.ts', "import { sleep } from '@concord/testkit/src/wait';")).toEqual(['@concord/testkit/src/wait']);
  expect(testImportsOf('api/src/app.ts', "import { x } from '../../testkit/src/api';")).toEqual(['../../testkit/src/api']);
  expect(testImportsOf('sfu/src/room.ts', "export { y } from './sfu-node.test';")).toEqual(['./sfu-node.test']);
  expect(testImportsOf('web/src/main.tsx', "const t = await import('../../tests/support/x');")).toEqual(['../../tests/support/x']);
  expect(testImportsOf('api/src/app.ts', "import express from 'express';\nimport { Database } from './db/database';\nimport { z } from '@concord/protocol';")).toEqual([]);
});

/** The non-test sources of the production packages. */
function productionSources(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...PRODUCTION_PACKAGES], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((file) => SOURCE.test(file) && !TEST_CODE.test(file) && !file.includes('/node_modules/') && !file.includes('/dist/') && existsSync(path.join(ROOT, file)));
}

test('no production source imports @concord/testkit or a test file', () => {
  const files = productionSources();
  expect(files).toContain('api/src/server.ts');
  const offenders = files.flatMap((file) => testImportsOf(file, readFileSync(path.join(ROOT, file), 'utf8')).map((specifier) => `${file} imports ${specifier}`));
  expect(offenders).toEqual([]);
});

test('test support lives in testkit, not among the production sources', () => {
  expect(productionSources().filter((file) => /(test-support|testing)\.[cm]?[jt]sx?$|(^|\/)support\//.test(file))).toEqual([]);
});
