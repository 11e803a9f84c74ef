import { readFileSync } from 'node:fs';
import { README, withGeneratedTable } from '../scripts/docs-config';

test("README's configuration table is the one the services' variable schemas generate (npm run docs:config)", () => {
  const readme = readFileSync(README, 'utf8');
  expect(readme).toBe(withGeneratedTable(readme));
});
