import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '@concord/testkit/src/browser';

const FILE = path.join(ROOT, 'docs/benchmarks.md');

/**
 * Replaces (or appends) the section of docs/benchmarks.md that starts with `section`'s first line
 * (its `## ` heading) up to the next `## ` heading; other sections stay as they are.
 */
export function writeBenchmarkSection(section: string): void {
  const heading = section.slice(0, section.indexOf('\n'));
  if (!heading.startsWith('## ')) throw new Error(`a benchmarks section starts with its "## " heading, got "${heading}"`);
  const current = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(`\n${heading}\n`);
  let next: string;
  if (start < 0) next = `${current.trimEnd()}\n\n${section}`;
  else {
    const end = current.indexOf('\n## ', start + 1);
    next = `${current.slice(0, start)}\n${section}${end < 0 ? '' : current.slice(end)}`;
  }
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  fs.writeFileSync(FILE, next.endsWith('\n') ? next : `${next}\n`);
  console.log(`written to ${path.relative(ROOT, FILE)}`);
}
