import type { CDPSession } from 'puppeteer-core';
import { totpCode } from '@concord/api/src/two-factor/totp';
import { expectNoSeriousAxeViolations } from '@concord/testkit/src/axe';
import { attribute, closePeople, launchPerson, PASSWORD, signUp, startPlatform, tap, type Person, type Platform } from '@concord/testkit/src/browser';
import { waitUntil } from '@concord/testkit/src/wait';

/*
 * Two-factor sign-in in the web client, on `npm start` (embedded PGlite): TOTP enrolled from User
 * settings (the secret read from the enrolment hook, the codes computed here as an app would),
 * signing out and in with a code (a replayed one refused), then a passkey in Chromium's virtual
 * authenticator as the second factor, and turning it off with a recovery code.
 *
 * WebAuthn needs a secure context and an RP id that matches the host: the page is opened at
 * http://localhost (the API's default WEBAUTHN_RP_ID), not 127.0.0.1 (IP addresses are no RP id).
 */

const STEP = 30;
let platform: Platform;
let url: string;
const people: Person[] = [];
const sel = (testId: string) => `[data-testid=${testId}]`;

beforeAll(async () => {
  platform = await startPlatform();
  url = platform.url.replace('127.0.0.1', 'localhost');
  people.push(await launchPerson('tess', platform.dir));
}, 180_000);

afterAll(async () => {
  await closePeople(people);
  await platform?.stop();
});

async function type(p: Person, selector: string, text: string): Promise<void> {
  await p.page.waitForSelector(selector, { timeout: 10_000 });
  await p.page.click(selector, { clickCount: 3 });
  await p.page.type(selector, text);
}

/** With at least 10 s left in this 30 s step: "this step" and "the next" do not move under the test. */
async function awayFromStepEdge(): Promise<number> {
  const into = (Date.now() / 1000) % STEP;
  if (into > STEP - 10) await new Promise((resolve) => setTimeout(resolve, (STEP - into + 0.5) * 1000));
  return Math.floor(Date.now() / 1000 / STEP);
}

async function openAccountSettings(p: Person): Promise<void> {
  await tap(p, sel('user-settings'));
  await tap(p, '[role=tab]:first-child');
  await p.page.waitForSelector(`${sel('settings-2fa')}[data-enabled]`, { timeout: 10_000 });
}

/** Server settings → Overview: ticks "Moderators must have two-factor sign-in" once it has loaded. */
async function setModeratorRule(p: Person): Promise<void> {
  await tap(p, sel('server-menu'));
  await tap(p, sel('server-settings'));
  await tap(p, sel('settings-tab-overview'));
  await tap(p, sel('server-2fa-required'));
}

async function signOut(p: Person): Promise<void> {
  await tap(p, sel('sign-out'));
  await p.page.waitForSelector(sel('auth-submit'), { timeout: 10_000 });
}

async function passwordStep(p: Person): Promise<void> {
  await type(p, sel('auth-email'), 'tess');
  await type(p, sel('auth-password'), PASSWORD);
  await tap(p, sel('auth-submit'));
  await p.page.waitForSelector(sel('auth-totp'), { timeout: 10_000 });
}

test('TOTP enrolled in settings, then sign-in asks for the code; a passkey in the virtual authenticator works as the second factor', async () => {
  const [tess] = people as [Person];
  await signUp(tess, url);
  // Her server's "moderators must have 2FA" rule: refused while she has no second factor herself.
  await tap(tess, sel('server-create'));
  await tap(tess, sel('server-create-submit'));
  await tess.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
  await setModeratorRule(tess);
  await waitUntil('the rule is refused', () => tess.page.$eval('[role=alert]', (element) => element.textContent ?? '').catch(() => ''), (text) => /two-factor sign-in for your own account/i.test(text), 5_000);
  expect(await tess.page.$eval(sel('server-2fa-required'), (box) => (box as unknown as { checked: boolean }).checked)).toBe(false);
  await tess.page.keyboard.press('Escape');

  await openAccountSettings(tess);
  expect(await attribute(tess.page, 'settings-2fa', 'data-enabled')).toBe('false');

  // Enrolment: the QR code is drawn, and the secret beside it is the one in its URI.
  await tap(tess, sel('totp-setup'));
  await tess.page.waitForSelector(sel('totp-secret'), { timeout: 10_000 });
  const secret = (await attribute(tess.page, 'totp-secret', 'data-secret'))!;
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  expect(await attribute(tess.page, 'totp-qr', 'data-uri')).toContain(`secret=${secret}`);
  await waitUntil(
    'the QR code is drawn',
    () => tess.page.$eval(sel('totp-qr'), (canvas) => {
      const c = canvas as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 128) dark++;
      return dark / (pixels.length / 4);
    }),
    (darkShare) => darkShare > 0.2 && darkShare < 0.8,
    5_000,
  );

  const step = await awayFromStepEdge();
  await type(tess, sel('totp-code'), totpCode(secret, step));
  await tap(tess, sel('totp-confirm'));
  await tess.page.waitForSelector(`${sel('recovery-codes')} [data-code]`, { timeout: 10_000 });
  await expectNoSeriousAxeViolations(tess.page, 'user settings: recovery codes');
  const recoveryCodes = await tess.page.$$eval(`${sel('recovery-codes')} [data-code]`, (items) => items.map((item) => item.getAttribute('data-code')!));
  expect(recoveryCodes).toHaveLength(10);
  await waitUntil('2FA shows as on', () => attribute(tess.page, 'settings-2fa', 'data-enabled'), (enabled) => enabled === 'true', 5_000);

  // Signed out and in: the password asks for the code; the code that confirmed enrolment is used up.
  await signOut(tess);
  await passwordStep(tess);
  await expectNoSeriousAxeViolations(tess.page, 'sign-in: the second factor');
  expect(await tess.page.$(sel('current-user'))).toBeNull();
  await type(tess, sel('auth-totp'), totpCode(secret, step));
  await tap(tess, sel('auth-submit'));
  await waitUntil('the replayed code is refused', () => tess.page.$eval(sel('auth-error'), (element) => element.textContent ?? '').catch(() => ''), (text) => /wrong or already used/i.test(text), 10_000);
  await expectNoSeriousAxeViolations(tess.page, 'sign-in: a refused code');
  expect(await tess.page.$(sel('current-user'))).toBeNull();
  await type(tess, sel('auth-totp'), totpCode(secret, step + 1));
  await tap(tess, sel('auth-submit'));
  await tess.page.waitForSelector(sel('current-user'), { timeout: 15_000 });
  expect(await attribute(tess.page, 'current-user', 'data-user-id')).toBe(tess.userId);

  // With 2FA of her own, the rule turns on.
  await setModeratorRule(tess);
  await waitUntil('the rule is on', () => tess.page.$eval(sel('server-2fa-required'), (box) => (box as unknown as { checked: boolean }).checked), (checked) => checked, 5_000);
  await tess.page.keyboard.press('Escape');

  // A passkey, in Chromium's virtual authenticator (user presence and verification simulated).
  const cdp: CDPSession = await tess.page.createCDPSession();
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await openAccountSettings(tess);
  await tap(tess, sel('passkey-add'));
  await tess.page.waitForSelector(sel('passkey-item'), { timeout: 10_000 });
  await expectNoSeriousAxeViolations(tess.page, 'user settings: two-factor sign-in with a passkey');
  expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1);

  await signOut(tess);
  await passwordStep(tess);
  await tess.page.waitForSelector(sel('auth-passkey'), { timeout: 10_000 });
  await expectNoSeriousAxeViolations(tess.page, 'sign-in: the second factor, a passkey offered');
  await tap(tess, sel('auth-passkey'));
  await tess.page.waitForSelector(sel('current-user'), { timeout: 15_000 });
  expect(await attribute(tess.page, 'current-user', 'data-user-id')).toBe(tess.userId);
  const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  expect(credential!.signCount).toBeGreaterThan(0);

  // Turning it off needs a fresh factor: a recovery code here; then the password alone signs in.
  await openAccountSettings(tess);
  await type(tess, sel('totp-code'), recoveryCodes[0]!);
  await tap(tess, sel('totp-confirm'));
  await waitUntil('2FA shows as off', () => attribute(tess.page, 'settings-2fa', 'data-enabled'), (enabled) => enabled === 'false', 10_000);
  await signOut(tess);
  await type(tess, sel('auth-email'), 'tess');
  await type(tess, sel('auth-password'), PASSWORD);
  await tap(tess, sel('auth-submit'));
  await tess.page.waitForSelector(sel('current-user'), { timeout: 15_000 });

  expect(tess.errors.filter((error) => !/401|403|Unauthorized|Forbidden/.test(error))).toEqual([]);
  expect(platform.errors()).toEqual([]);
}, 150_000);
