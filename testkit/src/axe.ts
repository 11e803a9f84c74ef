import axe from 'axe-core';
import type { Page } from 'puppeteer-core';

/*
 * Accessibility checks of what a page shows, with axe-core run inside the page (WCAG 2.1 A and
 * AA). Call it at each screen a browser test reaches; a new screen gets its check where its test
 * first shows it.
 *
 * axe's source is evaluated through the DevTools protocol rather than added as a <script>: the
 * web client's Content-Security-Policy forbids inline scripts, and DevTools evaluation is not
 * subject to it (nor reported as a violation to the CSP test).
 */

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
declare const window: { axe?: typeof axe };
declare const document: { getAnimations(): { effect: { getComputedTiming(): { endTime?: number | string } } | null; finished: Promise<unknown> }[] };

export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** Impacts that fail a test; minor and moderate ones are reported but pass. */
const FAILING = new Set(['serious', 'critical']);

export interface AxeFinding {
  rule: string;
  impact: string;
  help: string;
  helpUrl: string;
  /** One entry per element: its CSS selector path (through iframes and shadow roots, joined by ' >> '). */
  targets: string[];
  /** axe's account of what is wrong with each element (e.g. the colours and ratio measured), in the order of `targets`. */
  summaries: string[];
}

/**
 * Runs axe on `page` (or the part of it `include` selects) and returns every violation.
 * `label-content-name-mismatch` (WCAG 2.5.3, "Label in Name": a control's visible text must be
 * part of its accessible name) is experimental in axe and off unless enabled, so it is enabled here.
 */
export async function axeViolations(page: Page, include?: string): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => window.axe !== undefined))) await page.evaluate(axe.source);
  // Colours are measured as drawn: a menu item or drawer still in its transition would be judged
  // at a colour or place it only passes through. Endless animations (a spinner) are left running.
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((animation) => Number.isFinite(Number(animation.effect?.getComputedTiming().endTime)))
        .map((animation) => animation.finished.catch(() => undefined)),
    ),
  );
  const results = await page.evaluate(
    (tags, scope) => {
      const options: axe.RunOptions = {
        runOnly: { type: 'tag', values: tags },
        rules: { 'label-content-name-mismatch': { enabled: true } },
        resultTypes: ['violations'],
      };
      return scope ? window.axe!.run({ include: [scope] }, options) : window.axe!.run(options);
    },
    WCAG_TAGS,
    include ?? null,
  );
  return results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact ?? 'unknown',
    help: violation.help,
    helpUrl: violation.helpUrl,
    targets: violation.nodes.map((node) => node.target.map((part) => (Array.isArray(part) ? part.join(' >> ') : part)).join(' >> ')),
    summaries: violation.nodes.map((node) => (node.failureSummary ?? '').replace(/\s*\n\s*/g, ' ').trim()),
  }));
}

/** A readable list: rule, impact, what it asks, where to read more, and each offending element. */
export function describeFindings(findings: readonly AxeFinding[]): string {
  return findings
    .map((f) => `- ${f.rule} (${f.impact}): ${f.help}\n  ${f.helpUrl}\n${f.targets.map((t, i) => `    ${t}\n      ${f.summaries[i]}`).join('\n')}`)
    .join('\n');
}

/**
 * Fails with every serious or critical WCAG 2.1 A/AA violation on the screen `page` shows now,
 * named by `screen` (e.g. 'sign-in', 'server settings: roles'). Returns the minor and moderate ones.
 */
export async function expectNoSeriousAxeViolations(page: Page, screen: string, include?: string): Promise<AxeFinding[]> {
  const findings = await axeViolations(page, include);
  const failing = findings.filter((f) => FAILING.has(f.impact));
  if (failing.length > 0) throw new Error(`accessibility violations on "${screen}" (axe-core, WCAG 2.1 A/AA):\n${describeFindings(failing)}`);
  return findings.filter((f) => !FAILING.has(f.impact));
}
