import { expectNoSeriousAxeViolations } from '@concord/testkit/src/axe';
import { attribute, closePeople, launchPerson, signUp, startPlatform, tap, type Person, type Platform } from '@concord/testkit/src/browser';
import { expectVideoPlaying } from '@concord/testkit/src/call-probes';
import { waitUntil } from '@concord/testkit/src/wait';

/*
 * Every screen of the web client, scanned by axe-core (WCAG 2.1 A/AA, Label in Name included)
 * as people reach it: sign-in and sign-up, the empty app, chat with its message actions and
 * reaction picker, the server menu and its dialogs, a member's card, server and channel settings
 * tab by tab, user settings with two-factor enrolment, a call of two with a tile in full view, and
 * the phone-sized layout with its drawer. A serious or critical violation fails the test with the
 * rule, its elements and where to read about it (testkit/src/axe.ts).
 */

let platform: Platform;
const people: Person[] = [];
const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;

beforeAll(async () => {
  platform = await startPlatform();
  people.push(await launchPerson('ada', platform.dir), await launchPerson('ben', platform.dir));
}, 120_000);

afterAll(async () => {
  await closePeople(people);
  await platform?.stop();
});

/** Waits for `selector`, then scans the whole page. */
async function scanWhenShown(p: Person, screen: string, selector: string): Promise<void> {
  await p.page.waitForSelector(selector, { timeout: 10_000 });
  await expectNoSeriousAxeViolations(p.page, screen);
}

test('sign-in, chat, menus, settings and a call have no serious accessibility violations', async () => {
  const [ada, ben] = people as [Person, Person];
  await ada.page.goto(platform.url);
  await scanWhenShown(ada, 'sign-in', sel('auth-submit'));
  await tap(ada, sel('auth-mode'));
  await scanWhenShown(ada, 'sign-up', sel('auth-display-name'));
  await signUp(ada, platform.url);
  await expectNoSeriousAxeViolations(ada.page, 'the app with no server');

  await tap(ada, sel('server-create'));
  await scanWhenShown(ada, 'create a server', sel('server-name'));
  await ada.page.type(sel('server-name'), 'Analytical Engine');
  await tap(ada, sel('server-create-submit'));
  await ada.page.waitForSelector(sel('message-input'), { timeout: 10_000 });

  // Ben joins with an invite, so chat and the call have someone else in them.
  await tap(ada, sel('invite-open'));
  await tap(ada, sel('invite-create'));
  const code = await waitUntil('the invite shows', () => attribute(ada.page, 'invite-code', 'data-code'), (c) => !!c);
  await expectNoSeriousAxeViolations(ada.page, 'invite dialog');
  await ada.page.keyboard.press('Escape');
  await signUp(ben, platform.url);
  await tap(ben, sel('server-join'));
  await scanWhenShown(ben, 'join a server', sel('invite-join-code'));
  await ben.page.type(sel('invite-join-code'), code!);
  await tap(ben, sel('invite-join-submit'));
  await ben.page.waitForSelector(sel('message-input'), { timeout: 10_000 });

  // Chat: messages, a reply being written, a message's actions and the reaction picker.
  await ada.page.type(sel('message-input'), 'Hello Ben, see https://example.com');
  await ada.page.keyboard.press('Enter');
  await ben.page.waitForSelector(sel('message-item'), { timeout: 10_000 });
  const message = `#message-${await attribute(ben.page, 'message-item', 'data-message-id')}`;
  await ben.page.hover(message);
  await tap(ben, `${message} ${sel('message-reply')}`);
  await scanWhenShown(ben, 'chat, replying', sel('reply-preview'));
  await ben.page.hover(message);
  await tap(ben, `${message} ${sel('message-react')}`);
  await scanWhenShown(ben, 'chat, reaction picker', sel('reaction-picker'));
  await tap(ben, sel('reaction-option', '[data-emoji="👍"]'));
  await scanWhenShown(ada, 'chat with a reaction', sel('reaction'));

  // Menus.
  await tap(ben, sel('server-menu'));
  await scanWhenShown(ben, 'server menu (member)', sel('menu-invite'));
  await ben.page.keyboard.press('Escape');
  await tap(ada, sel('server-menu'));
  await scanWhenShown(ada, 'server menu (owner)', sel('server-settings'));
  await tap(ada, sel('channel-create'));
  await scanWhenShown(ada, 'create a channel', sel('channel-name'));
  await ada.page.keyboard.press('Escape');

  // Server settings, tab by tab (a role open in the editor).
  await tap(ada, sel('server-menu'));
  await tap(ada, sel('server-settings'));
  await scanWhenShown(ada, 'server settings: overview', sel('server-2fa-required'));
  await tap(ada, sel('settings-tab-roles'));
  await tap(ada, sel('role-create'));
  await scanWhenShown(ada, 'server settings: roles', sel('permission-toggle'));
  await tap(ada, sel('settings-tab-members'));
  await scanWhenShown(ada, 'server settings: members', sel('settings-member'));
  await tap(ada, sel('settings-tab-invites'));
  await scanWhenShown(ada, 'server settings: invites', sel('settings-invite'));
  await ada.page.keyboard.press('Escape');
  await tap(ada, sel('member-item', `[data-user-id="${ben.userId}"]`));
  await scanWhenShown(ada, "a member's card with a role to give", sel('member-role-toggle'));
  await ada.page.keyboard.press('Escape');

  // A channel's settings.
  await tap(ada, sel('channel-settings'));
  await scanWhenShown(ada, 'channel settings: overview', sel('channel-rename'));
  await tap(ada, sel('channel-tab-permissions'));
  await scanWhenShown(ada, 'channel settings: permissions', sel('overwrite-target'));
  await ada.page.keyboard.press('Escape');

  // User settings: my account with two-factor sign-in (and its enrolment), then voice.
  await tap(ada, sel('user-settings'));
  await tap(ada, '[role=tab]:first-child');
  await scanWhenShown(ada, 'user settings: my account', `${sel('settings-2fa')}[data-enabled]`);
  await tap(ada, sel('totp-setup'));
  await scanWhenShown(ada, 'user settings: two-factor enrolment', sel('totp-qr'));
  await tap(ada, sel('settings-tab-voice'));
  await scanWhenShown(ada, 'user settings: voice and video', sel('device-mic'));
  await ada.page.keyboard.press('Escape');

  // A call of two, then a tile in full view.
  for (const p of [ada, ben]) await tap(p, sel('channel-item', '[data-kind=voice]'));
  await expectVideoPlaying(ada, [ben], 'camera');
  await expectNoSeriousAxeViolations(ada.page, 'a call');
  await tap(ada, `${sel('participant-tile', `[data-user-id="${ben.userId}"]`)} ${sel('tile-focus')}`);
  await expectNoSeriousAxeViolations(ada.page, 'a call, a tile in full view');
  await tap(ada, sel('voice-leave'));

  // Phone-sized: the chat, then the servers-and-channels drawer over it.
  await tap(ben, sel('channel-item', '[data-kind=text]'));
  await ben.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
  await ben.page.setViewport({ width: 390, height: 760 });
  await scanWhenShown(ben, 'phone-sized chat', '.nav-toggle');
  await tap(ben, '.nav-toggle');
  await scanWhenShown(ben, 'phone-sized drawer', '.layout.nav-open');

  expect(people.flatMap((p) => p.errors)).toEqual([]);
  expect(platform.errors()).toEqual([]);
}, 150_000);
