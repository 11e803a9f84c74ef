import { attribute, closePeople, launchPerson, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { startFirebaseAuthEmulator, type FirebaseAuthEmulator } from '@concord/testkit/src/firebase-emulator';
import { waitUntil } from '@concord/testkit/src/wait';

/*
 * Firebase email/password sign-in in the web client, against the Firebase Auth emulator: the
 * platform is configured for Firebase (GET /api/config names the project and the emulator), the
 * page signs up and in with the Firebase SDK and exchanges the ID token for a Concord session
 * (POST /api/auth/firebase/session), which survives a reload and ends with sign-out.
 */

const EMAIL = 'dana@example.com';
const PASSWORD = 'correct horse battery';
const sel = (testId: string) => `[data-testid=${testId}]`;

let emulator: FirebaseAuthEmulator | undefined;
let platform: Platform | undefined;
let dana: Person | undefined;

beforeAll(async () => {
  emulator = await startFirebaseAuthEmulator();
  platform = await startPlatform({
    env: {
      FIREBASE_PROJECT_ID: emulator.projectId,
      FIREBASE_WEB_API_KEY: 'demo-web-api-key',
      FIREBASE_AUTH_EMULATOR_HOST: emulator.host,
      ALLOW_FIREBASE_AUTH_EMULATOR: '1',
    },
  });
  dana = await launchPerson('dana', platform.dir);
}, 90_000);

afterAll(async () => {
  if (dana) await closePeople([dana]);
  await platform?.stop();
  await emulator?.stop();
}, 30_000);

test('with Firebase configured, the sign-in form asks for an email address', async () => {
  const { page } = dana!;
  await page.goto(platform!.url);
  await page.waitForSelector(`${sel('auth-email')}[type=email]`, { timeout: 10_000 });
  expect(await page.$eval('label', (el) => el.textContent)).toBe('Email');
  expect(dana!.errors).toEqual([]);
}, 20_000);

test('signs up, stays signed in across a reload, signs out and back in with Firebase', async () => {
  const { page } = dana!;
  await page.goto(platform!.url);
  await page.waitForSelector(`${sel('auth-email')}[type=email]`, { timeout: 10_000 });

  await page.click(sel('auth-mode'));
  await page.type(sel('auth-email'), EMAIL);
  await page.type(sel('auth-display-name'), 'Dana Scully');
  await page.type(sel('auth-password'), PASSWORD);
  await page.click(sel('auth-submit'));
  await page.waitForSelector(sel('current-user'), { timeout: 15_000 });
  const userId = await attribute(page, 'current-user', 'data-user-id');
  expect(await page.$eval(sel('current-user'), (el) => el.textContent)).toBe('Dana Scully');

  await page.reload();
  await page.waitForSelector(sel('current-user'), { timeout: 10_000 });
  expect(await attribute(page, 'current-user', 'data-user-id')).toBe(userId);

  await page.click(sel('user-settings'));
  // The settings dialog loads on first open (its own chunk).
  await page.waitForSelector('[role=tab]:first-child', { timeout: 10_000 });
  await page.click('[role=tab]:first-child');
  await page.click(sel('sign-out'));
  await page.waitForSelector(sel('auth-submit'), { timeout: 5_000 });

  // A wrong password is refused in plain words.
  await page.type(sel('auth-email'), EMAIL);
  await page.type(sel('auth-password'), 'not the password');
  await page.click(sel('auth-submit'));
  await waitUntil('the error shows', () => page.$eval(sel('auth-error'), (el) => el.textContent).catch(() => ''), (text) => !!text);
  expect(await page.$eval(sel('auth-error'), (el) => el.textContent)).toBe('Wrong email address or password.');

  await page.click(sel('auth-password'), { count: 3 });
  await page.type(sel('auth-password'), PASSWORD);
  await page.click(sel('auth-submit'));
  await page.waitForSelector(sel('current-user'), { timeout: 15_000 });
  expect(await attribute(page, 'current-user', 'data-user-id')).toBe(userId);
  // The emulator's failed sign-in is the one console error.
  expect(dana!.errors.filter((e) => !e.includes('identitytoolkit') && !e.includes('400'))).toEqual([]);
  expect(platform!.errors()).toEqual([]);
}, 60_000);
