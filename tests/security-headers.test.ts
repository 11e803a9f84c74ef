import { attribute, closePeople, launchPerson, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { waitUntil } from '@concord/testkit/src/wait';

/*
 * `npm start` serves the web client and the API on one origin: every response, index.html, the
 * SPA fallback and the assets included, carries the security headers, and the client still works
 * under its Content-Security-Policy in Chromium (sign-up, a server, chat over socket.io, a voice
 * call over WebRTC) without a single CSP violation.
 */

declare const document: { addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string }) => void): void };
declare const window: { __cspViolations: string[] };

let platform: Platform;
const people: Person[] = [];

beforeAll(async () => {
  platform = await startPlatform();
}, 120_000);

afterAll(async () => {
  await closePeople(people);
  await platform?.stop();
});

const COMMON = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

async function headersOf(route: string): Promise<{ status: number; type: string; headers: Record<string, string>; body: string }> {
  const response = await fetch(`${platform.url}${route}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', headers: Object.fromEntries(response.headers), body: await response.text() };
}

test('index.html, the SPA fallback, an asset and the API all carry the security headers', async () => {
  const index = await headersOf('/');
  expect(index).toMatchObject({ status: 200, headers: COMMON });
  expect(index.type).toMatch(/^text\/html/);
  const csp = index.headers['content-security-policy'] ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);

  expect(await headersOf('/servers/some/client/route')).toMatchObject({ status: 200, headers: { ...COMMON, 'content-security-policy': csp } });

  const script = /<script[^>]+src="([^"]+)"/.exec(index.body)?.[1];
  expect(script).toMatch(/^\/assets\//);
  const asset = await headersOf(script!);
  expect(asset).toMatchObject({ status: 200, headers: { ...COMMON, 'content-security-policy': csp } });
  expect(asset.type).toMatch(/javascript/);

  for (const route of ['/api/health', '/api/no-such-route']) {
    const api = await headersOf(route);
    expect(api.headers).toMatchObject({ ...COMMON, 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'cache-control': 'no-store' });
  }
});

test('the web client works under its policy in Chromium: no CSP violation from sign-up to a voice call', async () => {
  const person = await launchPerson('csp', platform.dir);
  people.push(person);
  await person.page.evaluateOnNewDocument(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;
  const tap = async (selector: string) => {
    await person.page.waitForSelector(selector, { timeout: 10_000 });
    await person.page.click(selector);
  };

  await signUp(person, platform.url);
  await tap(sel('server-create'));
  await person.page.waitForSelector(sel('server-name'));
  await person.page.type(sel('server-name'), 'Headers');
  await tap(sel('server-create-submit'));
  await person.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
  await person.page.type(sel('message-input'), 'under a policy');
  await person.page.keyboard.press('Enter');
  await person.page.waitForSelector(sel('message-item'), { timeout: 10_000 });

  await tap(sel('channel-item', '[data-kind=voice]'));
  if (!(await person.page.$(sel('voice-leave')))) await tap(sel('voice-join'));
  await waitUntil('the call connects', () => attribute(person.page, 'voice-state', 'data-state'), (state) => state === 'connected', 20_000);

  const violations = await person.page.evaluate(() => window.__cspViolations);
  expect({ violations, errors: person.errors }).toEqual({ violations: [], errors: [] });
}, 90_000);
