import { attribute, closePeople, launchPerson, PASSWORD, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { waitUntil } from '@concord/testkit/src/wait';

/*
 * "Sign out everywhere" in the web client, on `npm start` (embedded: PGlite, in-process signaling):
 * one user signed in in two browsers; the first signs the other out from User settings, and the
 * other is sent to the sign-in page at once by its closed socket, while the first stays in.
 */

declare const window: { localStorage: { getItem(key: string): string | null } };

let platform: Platform;
const people: Person[] = [];
const sel = (testId: string) => `[data-testid=${testId}]`;

beforeAll(async () => {
  platform = await startPlatform();
  for (const name of ['dana', 'dana-laptop']) people.push(await launchPerson(name, platform.dir));
}, 90_000);

afterAll(async () => {
  await closePeople(people);
  await platform?.stop();
});

async function tap(p: Person, selector: string): Promise<void> {
  await p.page.waitForSelector(selector, { timeout: 5_000 });
  await p.page.click(selector);
}

test('sign out everywhere sends the other browser of the account to the sign-in page; this one stays signed in', async () => {
  const [phone, laptop] = people as [Person, Person];
  await signUp(phone, platform.url);
  // The same account in a second browser.
  await laptop.page.goto(platform.url);
  await laptop.page.waitForSelector(sel('auth-submit'), { timeout: 10_000 });
  await laptop.page.type(sel('auth-email'), 'dana');
  await laptop.page.type(sel('auth-password'), PASSWORD);
  await tap(laptop, sel('auth-submit'));
  await laptop.page.waitForSelector(sel('current-user'), { timeout: 15_000 });
  expect(await attribute(laptop.page, 'current-user', 'data-user-id')).toBe(phone.userId);

  await tap(phone, sel('user-settings'));
  await tap(phone, '[role=tab]:first-child');
  await tap(phone, sel('sessions-revoke-all'));
  await phone.page.waitForSelector(sel('sessions-revoked'), { timeout: 5_000 });
  expect(await phone.page.$eval(sel('sessions-revoked'), (element) => element.textContent)).toBe('Signed out 1 other session.');

  // Told by its socket, not by its next request: no reload, no click.
  await laptop.page.waitForSelector(sel('auth-submit'), { timeout: 5_000 });
  expect(await laptop.page.evaluate(() => window.localStorage.getItem('concord.session'))).toBeNull();
  // The one that signed the others out is still in, and its requests still work.
  await waitUntil('dana is still signed in here', () => attribute(phone.page, 'current-user', 'data-user-id'), (id) => id === phone.userId, 3_000);
  await tap(phone, sel('sessions-revoke-all'));
  await waitUntil('nothing left to sign out', () => phone.page.$eval(sel('sessions-revoked'), (element) => element.textContent), (text) => text === 'Signed out 0 other sessions.', 5_000);
  expect([...phone.errors, ...laptop.errors].filter((error) => !/401|Unauthorized/.test(error))).toEqual([]);
  expect(platform.errors()).toEqual([]);
}, 60_000);
