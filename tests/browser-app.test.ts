import os from 'node:os';
import { startBlockableProxy, type BlockableProxy } from '@concord/testkit/src/blockable-proxy';
import { attribute, closePeople, launchPerson, PASSWORD, signUp, startPlatform, type Person, type Platform } from '@concord/testkit/src/browser';
import { expectAudioPlaying, expectVideoPlaying, stats, tileOf, tiles } from '@concord/testkit/src/call-probes';
import { sleep, waitUntil } from '@concord/testkit/src/wait';

/*
 * The web client as a product, in real browsers against the whole platform (`npm start`'s
 * launcher): Alice signs up, makes a server and invites Bob; they chat (replies, mentions, edits,
 * reactions, typing, deletes, a send that fails and is retried, history and unread markers, HTML
 * that must stay text); Carol joins too and the three meet in a voice channel, where media must be
 * decoded by everyone and come from the SFU's ports; a screen share, a permission taken away, a
 * network drop that heals by itself, a browser killed outright, and leaving.
 *
 * Everything goes through the data-testid hooks of ../shared/notes/ui-contract.md.
 */

// Page callbacks run in the browser; the server tsconfig has no DOM lib, so name what they use.
interface El {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
}
declare const document: { querySelector(selector: string): El | null; querySelectorAll(selector: string): ArrayLike<El> };
declare const window: { __xss?: unknown; localStorage: { getItem(key: string): string | null } };

interface ShownMessage {
  id: string;
  author: string;
  content: string;
  pending: string | null;
  mentioned: boolean;
  edited: boolean;
  replyTo: string | null;
  reactions: { emoji: string; count: number; me: boolean }[];
}

let platform: Platform;
/** Bob's way in, whose network the test cuts. */
let bobsNetwork: BlockableProxy;
const people: Person[] = [];
let failed = false;
let serverId = '';
let generalId = '';
let voiceId = '';
let historyId = '';
let inviteCode = '';
/** Runs while the call steps go on; history and unread are checked after them. */
let seeding: Promise<void> = Promise.resolve();
const HISTORY = 60;
const GRACE_MS = 3_000;

beforeAll(async () => {
  // History is written through the API faster than people type (see seedHistory).
  platform = await startPlatform({ workers: 1, graceMs: GRACE_MS, env: { MESSAGE_RATE_LIMIT: '1000/10s', MESSAGE_IP_RATE_LIMIT: '1000/10s' } });
  const launched = await Promise.allSettled(['alice', 'bob', 'carol'].map((name) => launchPerson(name, platform.dir)));
  for (const result of launched) if (result.status === 'fulfilled') people.push(result.value);
  for (const result of launched) if (result.status === 'rejected') throw result.reason;
  bobsNetwork = await startBlockableProxy(platform.url);
}, 60_000);

afterAll(async () => {
  if (failed) {
    // What each screen showed when it went wrong.
    for (const p of people.filter((q) => !q.killed)) {
      const file = `${os.tmpdir()}/concord-e2e-${p.name}.png` as const;
      if (await p.page.screenshot({ path: file }).then(() => true, () => false)) console.log(`${p.name}'s screen: ${file}`);
    }
  }
  await closePeople(people);
  await bobsNetwork?.close();
  if (failed) {
    console.log(`platform output:\n${platform?.output().split('\n').slice(-200).join('\n')}`);
    for (const p of people) if (p.errors.length) console.log(`${p.name}'s browser errors:\n${p.errors.join('\n')}`);
  }
  await platform?.stop();
}, 30_000);

/** A test whose failure also prints the platform's output (in afterAll); later steps depend on earlier ones. */
function step(name: string, body: () => Promise<void>, timeoutMs: number): void {
  test(
    name,
    async () => {
      try {
        if (failed) throw new Error('an earlier step failed; this one depends on it');
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    timeoutMs,
  );
}

const cast = (): [Person, Person, Person] => people as [Person, Person, Person];
const sel = (testId: string, extra = '') => `[data-testid=${testId}]${extra}`;

describe('the web client, end to end', () => {
  step(
    'Alice signs up, creates a server and an invite; Bob and Carol join with it',
    async () => {
      const [alice, bob, carol] = cast();
      await Promise.all(people.map((p) => signUp(p, p === bob ? bobsNetwork.url : platform.url)));

      await tap(alice, sel('server-create'));
      await alice.page.waitForSelector(sel('server-name'));
      await clearAndType(alice, sel('server-name'), 'Rivendell');
      await tap(alice, sel('server-create-submit'));
      await alice.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
      serverId = (await attribute(alice.page, 'server-item', 'data-server-id')) ?? '';
      generalId = await alice.page.$eval(sel('channel-item', '[aria-current=page]'), (el) => el.getAttribute('data-channel-id') ?? '');
      expect(serverId).not.toBe('');
      expect(generalId).not.toBe('');
      // A reload keeps her signed in, on the same channel.
      await alice.page.reload();
      await alice.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
      expect(await attribute(alice.page, 'current-user', 'data-user-id')).toBe(alice.userId);
      expect(await alice.page.$eval(sel('channel-item', '[aria-current=page]'), (el) => el.getAttribute('data-channel-id'))).toBe(generalId);

      await tap(alice, sel('invite-open'));
      await tap(alice, sel('invite-create'));
      inviteCode = (await waitUntil('the invite shows', () => attribute(alice.page, 'invite-code', 'data-code'), (code) => !!code)) ?? '';
      const link = await alice.page.$eval(sel('invite-code'), (el) => (el as unknown as { value: string }).value);
      expect(link).toBe(`${platform.url}/invite/${inviteCode}`);
      await alice.page.keyboard.press('Escape');

      // Bob pastes the link into the join dialog; Carol opens it.
      await tap(bob, sel('server-join'));
      await bob.page.type(sel('invite-join-code'), link);
      await carol.page.goto(link);
      for (const p of [bob, carol]) {
        await p.page.waitForSelector(sel('invite-preview'), { timeout: 5_000 });
        await tap(p, sel('invite-join-submit'));
        await p.page.waitForSelector(sel('server-item', `[data-server-id="${serverId}"]`), { timeout: 10_000 });
        await p.page.waitForSelector(sel('message-input'), { timeout: 10_000 });
      }
      // Everyone is listed, online, on Alice's screen.
      await waitUntil('alice sees bob and carol online', () => memberPresence(alice), (m) => m[bob.userId] === 'online' && m[carol.userId] === 'online' && m[alice.userId] === 'online');
      expectNoErrors();
    },
    60_000,
  );

  step(
    'they chat: live messages, typing, a reply with a mention, an edit, reactions and a delete',
    async () => {
      const [alice, bob] = cast();
      await send(alice, 'Hello from Alice, who has the ring?');
      const first = await waitForMessage(bob, (m) => m.content === 'Hello from Alice, who has the ring?');
      expect(first.author).toBe(alice.userId);

      // Bob types; Alice sees it.
      await bob.page.type(sel('message-input'), 'Not');
      await waitUntil('alice sees bob typing', () => text(alice, sel('typing-indicator')), (t) => t.includes('Bob is typing'));
      await clearInput(bob);

      // Bob replies to Alice, mentioning her through the suggestions.
      await messageAction(bob, first.id, 'message-reply');
      await bob.page.waitForSelector(sel('reply-preview'));
      await bob.page.type(sel('message-input'), 'I do, @Ali');
      await bob.page.waitForSelector(sel('mention-suggestion', `[data-user-id="${alice.userId}"]`), { timeout: 5_000 });
      await bob.page.keyboard.press('Enter');
      await bob.page.type(sel('message-input'), '— here it is');
      await bob.page.keyboard.press('Enter');
      const reply = await waitForMessage(alice, (m) => m.author === bob.userId && m.content.includes('here it is'));
      expect(reply).toMatchObject({ replyTo: first.id, mentioned: true, content: 'I do, @Alice — here it is' });

      // Alice edits her message; Bob sees the new text, marked edited.
      await messageAction(alice, first.id, 'message-edit');
      await alice.page.waitForSelector(sel('message-edit-input'));
      await alice.page.keyboard.down('Control');
      await alice.page.keyboard.press('a');
      await alice.page.keyboard.up('Control');
      await alice.page.keyboard.type('Hello from Alice, who has the ring? (asking for a friend)');
      await alice.page.keyboard.press('Enter');
      await waitForMessage(bob, (m) => m.id === first.id && m.edited && m.content.endsWith('(asking for a friend)'));

      // Reactions: Bob's and then Alice's, counted on both screens.
      await messageAction(bob, first.id, 'message-react');
      await tap(bob, sel('reaction-option', '[data-emoji="👍"]'));
      await waitForMessage(alice, (m) => m.id === first.id && m.reactions.some((r) => r.emoji === '👍' && r.count === 1 && !r.me));
      await tap(alice, `#message-${first.id} ${sel('reaction', '[data-emoji="👍"]')}`);
      await waitForMessage(bob, (m) => m.id === first.id && m.reactions.some((r) => r.emoji === '👍' && r.count === 2 && r.me));
      await waitForMessage(alice, (m) => m.id === first.id && m.reactions.some((r) => r.emoji === '👍' && r.count === 2 && r.me));

      // Alice deletes her message; it goes from Bob's screen, and his reply loses its reference.
      await messageAction(alice, first.id, 'message-delete');
      await waitUntil('bob no longer sees the deleted message', () => shownMessages(bob), (ms) => !ms.some((m) => m.id === first.id));
      await waitForMessage(bob, (m) => m.id === reply.id && m.replyTo === null);
      expectNoErrors();
    },
    45_000,
  );

  step(
    'what people write stays text: no HTML, only http(s) links',
    async () => {
      const [alice, bob] = cast();
      const evil = '<img src=x onerror="window.__xss=1"><b>bold</b> javascript:window.__xss=2 see https://example.com/a?b=1.';
      await send(bob, evil);
      const shown = await waitForMessage(alice, (m) => m.author === bob.userId && m.content === evil);
      const inside = await alice.page.evaluate((id) => {
        const el = document.querySelector(`#message-${id} [data-testid=message-content]`);
        return {
          elements: Array.from(el?.querySelectorAll('img, b, script, iframe') ?? []).length,
          links: Array.from(el?.querySelectorAll('a') ?? [], (a) => ({ href: a.getAttribute('href'), rel: a.getAttribute('rel'), target: a.getAttribute('target') })),
          xss: window.__xss ?? null,
        };
      }, shown.id);
      expect(inside).toEqual({ elements: 0, links: [{ href: 'https://example.com/a?b=1', rel: 'noopener noreferrer nofollow ugc', target: '_blank' }], xss: null });
      expectNoErrors();
    },
    20_000,
  );

  step(
    'a send whose answer is lost is retried with its nonce and shows once',
    async () => {
      const [alice, bob] = cast();
      // The server stores the message, but Alice's browser never sees the answer.
      const cdp = await alice.page.createCDPSession();
      await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/api/channels/*/messages', requestStage: 'Response' }] });
      let failedOnce = false;
      cdp.on('Fetch.requestPaused', (event: { requestId: string; request: { method: string } }) => {
        if (event.request.method === 'POST' && !failedOnce) {
          failedOnce = true;
          void cdp.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'ConnectionReset' });
        } else void cdp.send('Fetch.continueRequest', { requestId: event.requestId });
      });
      const content = 'This one survives a lost answer';
      await send(alice, content);
      await waitUntil('the first answer was dropped', async () => failedOnce, (v) => v);
      await waitForMessage(alice, (m) => m.content === content && m.pending === null && m.id !== '');
      await waitForMessage(bob, (m) => m.content === content);
      await cdp.send('Fetch.disable');
      await cdp.detach();
      await sleep(500);
      for (const p of [alice, bob]) expect((await shownMessages(p)).filter((m) => m.content === content)).toHaveLength(1);
      // The dropped answer is the one console error this step causes.
      const dropped = alice.errors.findIndex((e) => e.includes('net::ERR_CONNECTION_RESET') || e.includes('Failed to load resource'));
      if (dropped >= 0) alice.errors.splice(dropped, 1);
      expectNoErrors();
    },
    20_000,
  );

  step(
    'server management: shown only to those allowed; roles, channel overwrites, order and kicks take effect for others live',
    async () => {
      const [alice, bob] = cast();
      // Bob may invite (everyone may by default) but manage nothing.
      await tap(bob, sel('server-menu'));
      await bob.page.waitForSelector(sel('menu-invite'));
      expect(await bob.page.$$eval('[role=menu] [role=menuitem]', (items) => items.map((i) => i.getAttribute('data-testid')))).toEqual(['menu-invite', 'server-leave']);
      await bob.page.keyboard.press('Escape');
      expect(await bob.page.$(sel('channel-settings'))).toBeNull();

      // A role for Bob, made and given through the UI; it shows as his group in the member list.
      await tap(alice, sel('server-menu'));
      await tap(alice, sel('server-settings'));
      await tap(alice, sel('settings-tab-roles'));
      await tap(alice, sel('role-create'));
      await alice.page.waitForSelector(sel('role-name'));
      await clearAndType(alice, sel('role-name'), 'Ring-bearers');
      await tap(alice, sel('permission-toggle', '[data-permission=MANAGE_MESSAGES]'));
      await waitUntil('the role is saved', () => alice.page.$$eval(sel('role-item'), (items) => items.map((i) => i.textContent)), (names) => names.includes('Ring-bearers'));
      await alice.page.keyboard.press('Escape');
      await tap(alice, sel('member-item', `[data-user-id="${bob.userId}"]`));
      await tap(alice, sel('member-role-toggle'));
      await alice.page.keyboard.press('Escape');
      await waitUntil('bob’s list shows him as a ring-bearer', () => bob.page.$$eval('[data-testid=member-list] section', (sections) => sections.map((s) => s.getAttribute('aria-label'))), (groups) => groups.includes('Ring-bearers'));

      // @everyone may not write in #general: Bob's composer closes, and opens again.
      await tap(alice, sel('channel-settings', `[data-channel-id="${generalId}"]`));
      await tap(alice, sel('channel-tab-permissions'));
      await tap(alice, sel('overwrite-state', '[data-permission=SEND_MESSAGES][data-value=deny]'));
      await waitUntil('bob may not write', () => bob.page.$eval(sel('message-input'), (el) => el.getAttribute('disabled')), (v) => v !== null);
      await tap(alice, sel('overwrite-state', '[data-permission=SEND_MESSAGES][data-value=inherit]'));
      await waitUntil('bob may write again', () => bob.page.$eval(sel('message-input'), (el) => el.getAttribute('disabled')), (v) => v === null);
      await alice.page.keyboard.press('Escape');

      // The voice channel made with the server moves above #general, for Bob too.
      const order = (p: Person) => p.page.$$eval(sel('channel-item'), (items) => items.map((i) => i.getAttribute('data-kind')));
      expect(await order(bob)).toEqual(['text', 'voice']);
      const lounge = await alice.page.$eval(sel('channel-item', '[data-kind=voice]'), (el) => el.getAttribute('data-channel-id'));
      await tap(alice, sel('channel-settings', `[data-channel-id="${lounge}"]`));
      await tap(alice, sel('channel-move-up'));
      await alice.page.keyboard.press('Escape');
      await waitUntil('bob sees the new order', () => order(bob), (kinds) => kinds.join() === 'voice,text');

      // Someone joins and is kicked; Bob's member list follows.
      const eve = await joinThroughApi('eve');
      await waitUntil('bob sees eve', () => memberPresence(bob), (m) => eve in m);
      await tap(alice, sel('member-item', `[data-user-id="${eve}"]`));
      await tap(alice, sel('member-kick'));
      await waitUntil('bob no longer sees eve', () => memberPresence(bob), (m) => !(eve in m));
      expectNoErrors();
    },
    40_000,
  );

  step(
    'Alice creates a voice channel; the three join and each decodes the others’ video and audio over the SFU',
    async () => {
      const [alice, bob, carol] = cast();
      historyId = await createChannel(alice, 'text', 'history');
      // Fills #history while the call runs (see the history step).
      seeding = seedHistory();
      seeding.catch(() => undefined);
      await tap(alice, sel('channel-item', `[data-channel-id="${generalId}"]`));
      voiceId = await createChannel(alice, 'voice', 'Council');
      await alice.page.waitForSelector(sel('voice-join'));
      await tap(alice, sel('voice-join'));
      for (const p of [bob, carol]) {
        await p.page.waitForSelector(sel('channel-item', `[data-channel-id="${voiceId}"]`), { timeout: 10_000 });
        await tap(p, sel('channel-item', `[data-channel-id="${voiceId}"]`));
      }
      for (const p of people) await waitUntil(`${p.name} is connected`, () => attribute(p.page, 'voice-state', 'data-state'), (v) => v === 'connected', 20_000);

      for (const p of people) {
        await waitUntil(`${p.name} sees a camera tile for each participant`, () => tiles(p), (ts) => people.every((q) => ts.some((t) => t.user === q.userId && t.source === 'camera' && t.local === (q === p))));
      }
      await Promise.all(
        people.map(async (p) => {
          const others = people.filter((q) => q !== p);
          await expectVideoPlaying(p, others, 'camera');
          await expectAudioPlaying(p, others);
        }),
      );
      // The receive transport's own counters rise, and its ICE pair ends at the SFU.
      await Promise.all(
        people.map(async (p) => {
          const before = await stats(p);
          await waitUntil(`${p.name}'s recv stats rise`, () => stats(p), (now) =>
            now.video.framesDecoded >= before.video.framesDecoded + 10 && now.audio.packetsReceived >= before.audio.packetsReceived + 20 && now.audio.totalSamplesReceived > before.audio.totalSamplesReceived,
          );
          const pair = (await stats(p)).selectedCandidatePair;
          expect({ who: p.name, viaSfu: pair?.remoteAddress === '127.0.0.1' && platform.rtcPorts.includes(pair.remotePort) }).toEqual({ who: p.name, viaSfu: true });
        }),
      );
      // The channel list shows who is in the call, on everyone's screen.
      for (const p of people) {
        await waitUntil(`${p.name}'s channel list shows the three in the call`, () => occupants(p), (ids) => people.every((q) => ids.includes(q.userId)));
      }
      expectNoErrors();
    },
    60_000,
  );

  step(
    'muting, deafening, the camera, a chosen device and push-to-talk show on the controls and on the others’ screens',
    async () => {
      const [alice, bob, carol] = cast();
      await tap(alice, sel('toggle-mic'));
      await waitUntil('alice’s mic button shows off', () => attribute(alice.page, 'toggle-mic', 'aria-pressed'), (v) => v === 'false');
      for (const p of [bob, carol]) await waitUntil(`${p.name} sees alice muted`, () => tiles(p), (ts) => tileOf(ts, alice, 'camera')?.micOff === true);
      await tap(alice, sel('toggle-mic'));
      for (const p of [bob, carol]) await waitUntil(`${p.name} hears alice again`, () => tiles(p), (ts) => tileOf(ts, alice, 'camera')?.micOff === false && tileOf(ts, alice, 'camera')?.audio === 'live');

      // Deafened: Bob hears nobody (and is muted himself) until he undeafens.
      await tap(bob, sel('toggle-deafen'));
      await waitUntil('bob is deafened', () => attribute(bob.page, 'toggle-deafen', 'aria-pressed'), (v) => v === 'true');
      await waitUntil('bob plays no sound', () => tiles(bob), (ts) => ts.filter((t) => !t.local && t.source === 'camera').every((t) => t.audio !== 'live'));
      await waitUntil('the others see bob muted', () => tiles(alice), (ts) => tileOf(ts, bob, 'camera')?.micOff === true);
      await tap(bob, sel('toggle-deafen'));
      await expectAudioPlaying(bob, [alice, carol]);

      await tap(carol, sel('toggle-camera'));
      await waitUntil('carol’s camera is off', () => attribute(carol.page, 'toggle-camera', 'aria-pressed'), (v) => v === 'false');
      await waitUntil('alice sees carol without video', () => tiles(alice), (ts) => tileOf(ts, carol, 'camera')?.avatar === true);
      await tap(carol, sel('toggle-camera'));
      await expectVideoPlaying(alice, [carol], 'camera');

      // Carol picks her camera by name and turns on push-to-talk: her video carries on, and her
      // microphone is live only while she holds the key.
      await tap(carol, sel('voice-settings'));
      const camera = await waitUntil('carol’s cameras are listed', () => carol.page.$$eval(`${sel('device-camera')} option`, (options) => options.map((o) => o.getAttribute('value') ?? '').filter(Boolean)), (ids) => ids.length > 0);
      await carol.page.select(sel('device-camera'), camera[0]!);
      await tap(carol, sel('mode-ptt'));
      await carol.page.keyboard.press('Escape');
      await waitUntil('alice sees carol muted by push-to-talk', () => tiles(alice), (ts) => tileOf(ts, carol, 'camera')?.micOff === true);
      await expectVideoPlaying(alice, [carol], 'camera');
      await carol.page.keyboard.down('KeyV');
      await waitUntil('alice hears carol while she holds the key', () => tiles(alice), (ts) => tileOf(ts, carol, 'camera')?.micOff === false);
      await carol.page.keyboard.up('KeyV');
      await waitUntil('carol is muted again', () => tiles(alice), (ts) => tileOf(ts, carol, 'camera')?.micOff === true);
      await tap(carol, sel('voice-settings'));
      await tap(carol, sel('mode-voice'));
      await carol.page.keyboard.press('Escape');
      await tap(carol, sel('toggle-mic'));
      await waitUntil('alice hears carol again', () => tiles(alice), (ts) => tileOf(ts, carol, 'camera')?.micOff === false);
      expectNoErrors();
    },
    40_000,
  );

  step(
    'a screen share is a tile of its own that can fill the view; a call out of sight stops receiving video',
    async () => {
      const [alice, bob, carol] = cast();
      await tap(alice, sel('toggle-screen'));
      await waitUntil('alice shares her screen', () => attribute(alice.page, 'toggle-screen', 'aria-pressed'), (v) => v === 'true');
      await Promise.all([bob, carol].map((p) => expectVideoPlaying(p, [alice], 'screen')));
      await tap(bob, `${sel('participant-tile', `[data-user-id="${alice.userId}"][data-source=screen]`)} ${sel('tile-focus')}`);
      await waitUntil('bob shows the screen in full view', () => tiles(bob), (ts) => tileOf(ts, alice, 'screen')?.focused === true);
      await expectVideoPlaying(bob, [alice], 'screen');

      // Bob looks at a text channel: the call goes on, but its video is paused on the server.
      await tap(bob, sel('channel-item', `[data-channel-id="${generalId}"]`));
      await bob.page.waitForSelector(sel('message-input'));
      await sleep(1_000);
      const away = await stats(bob);
      await sleep(1_500);
      const later = await stats(bob);
      expect(later.video.framesDecoded - away.video.framesDecoded).toBeLessThan(5);
      expect(later.audio.packetsReceived).toBeGreaterThan(away.audio.packetsReceived);
      await tap(bob, sel('channel-item', `[data-channel-id="${voiceId}"]`));
      await expectVideoPlaying(bob, [alice, carol], 'camera');

      await tap(alice, sel('toggle-screen'));
      for (const p of people) await waitUntil(`${p.name} no longer shows a screen tile`, () => tiles(p), (ts) => !ts.some((t) => t.source === 'screen'));
      expectNoErrors();
    },
    40_000,
  );

  step(
    'taking VIDEO from @everyone turns the others’ cameras off on the owner’s screen',
    async () => {
      const [alice, bob, carol] = cast();
      await tap(alice, sel('server-menu'));
      await tap(alice, sel('server-settings'));
      await tap(alice, sel('settings-tab-roles'));
      await tap(alice, sel('role-item', '[data-everyone=true]'));
      const toggle = sel('permission-toggle', '[data-permission=VIDEO]');
      await alice.page.waitForSelector(toggle);
      expect(await alice.page.$eval(toggle, (el) => el.getAttribute('aria-checked'))).toBe('true');
      await tap(alice, toggle);
      await waitUntil('VIDEO is off', () => alice.page.$eval(toggle, (el) => el.getAttribute('aria-checked')), (v) => v === 'false');
      await alice.page.keyboard.press('Escape');

      for (const who of [bob, carol]) {
        await waitUntil(`alice no longer gets ${who.name}'s camera`, () => tiles(alice), (ts) => tileOf(ts, who, 'camera')?.avatar === true);
        await waitUntil(`${who.name}'s camera button is off and disabled`, () => who.page.$eval(sel('toggle-camera'), (el) => [el.getAttribute('aria-pressed'), el.getAttribute('disabled')]), ([pressed, disabled]) => pressed === 'false' && disabled !== null);
      }
      // The owner keeps every permission.
      await expectVideoPlaying(bob, [alice], 'camera');
      expectNoErrors();
    },
    30_000,
  );

  step(
    'Bob drops off the network and comes back by himself, call and chat',
    async () => {
      const [alice, bob] = cast();
      bobsNetwork.block();
      await waitUntil('bob’s call is reconnecting', () => attribute(bob.page, 'voice-state', 'data-state'), (v) => v === 'reconnecting', 10_000);
      await waitUntil('bob’s app says it is reconnecting', () => attribute(bob.page, 'gateway-state', 'data-state'), (v) => v === 'reconnecting', 10_000);
      await tap(alice, sel('channel-item', `[data-channel-id="${generalId}"]`));
      await alice.page.waitForSelector(sel('message-input'));
      await send(alice, 'Bob, are you still there?');
      await tap(alice, sel('channel-item', `[data-channel-id="${voiceId}"]`));
      await sleep(1_000);
      bobsNetwork.unblock();
      await waitUntil('bob’s call is connected again', () => attribute(bob.page, 'voice-state', 'data-state'), (v) => v === 'connected', 30_000);
      await expectVideoPlaying(bob, [alice], 'camera');
      await expectAudioPlaying(alice, [bob]);
      // What was said meanwhile is there when he looks.
      await tap(bob, sel('channel-item', `[data-channel-id="${generalId}"]`));
      await waitForMessage(bob, (m) => m.content === 'Bob, are you still there?', 15_000);
      await tap(bob, sel('channel-item', `[data-channel-id="${voiceId}"]`));
      // Errors of requests that failed while offline are expected here, nothing else.
      bob.errors.splice(0, bob.errors.length, ...bob.errors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|Failed to load resource|WebSocket/.test(e)));
      expectNoErrors();
    },
    60_000,
  );

  step(
    'history loads on scrolling up, and a channel with new messages is marked unread',
    async () => {
      const [, bob] = cast();
      await seeding;
      await waitUntil('bob sees #history as unread', () => bob.page.$eval(sel('channel-item', `[data-channel-id="${historyId}"]`), (el) => el.getAttribute('data-unread')), (v) => v === 'true');
      await tap(bob, sel('channel-item', `[data-channel-id="${historyId}"]`));
      await waitForMessage(bob, (m) => m.content === `history ${HISTORY}`);
      const firstPage = await shownMessages(bob);
      expect(firstPage.some((m) => m.content === 'history 1')).toBe(false);
      // Scroll to the top until the first message is there.
      await waitUntil(
        'bob scrolls back to the first message',
        async () => {
          await bob.page.evaluate(() => {
            const scroller = document.querySelector('[data-testid=message-list]') as unknown as { scrollTop: number; scrollHeight: number };
            scroller.scrollTop = -scroller.scrollHeight;
          });
          return shownMessages(bob);
        },
        (ms) => ms.some((m) => m.content === 'history 1'),
      );
      const all = await shownMessages(bob);
      const numbers = all.filter((m) => m.content.startsWith('history ')).map((m) => Number(m.content.slice(8)));
      expect(numbers).toEqual(Array.from({ length: HISTORY }, (_, i) => i + 1));
      expect(await bob.page.$eval(sel('channel-item', `[data-channel-id="${historyId}"]`), (el) => el.getAttribute('data-unread'))).toBeNull();
      await tap(bob, sel('channel-item', `[data-channel-id="${voiceId}"]`));
      expectNoErrors();
    },
    40_000,
  );

  step(
    'a browser that dies loses its media at once and its place after the grace period',
    async () => {
      const [alice, bob, carol] = cast();
      const pid = carol.browser.process()?.pid;
      if (pid === undefined) throw new Error('carol’s Chromium has no process to kill');
      carol.killed = true;
      process.kill(-pid, 'SIGKILL');
      await Promise.all(
        [alice, bob].map((p) => waitUntil(`${p.name} no longer shows carol`, () => tiles(p), (ts) => !ts.some((t) => t.user === carol.userId), GRACE_MS + 6_000)),
      );
      await expectVideoPlaying(bob, [alice], 'camera');
      expectNoErrors();
    },
    20_000,
  );

  step(
    'Alice leaves; Bob sees her go from the call and from the channel list; she signs out and in again',
    async () => {
      const [alice, bob] = cast();
      await tap(alice, sel('voice-leave'));
      await waitUntil('alice is out of the call', () => attribute(alice.page, 'voice-state', 'data-state'), (v) => v === 'disconnected');
      await alice.page.waitForSelector(sel('voice-join'));
      await waitUntil('bob no longer shows alice', () => tiles(bob), (ts) => !ts.some((t) => t.user === alice.userId), GRACE_MS - 500);
      await waitUntil('bob’s channel list no longer shows alice in the call', () => occupants(bob), (ids) => !ids.includes(alice.userId));
      expect(await attribute(bob.page, 'voice-state', 'data-state')).toBe('connected');

      // She signs out, and back in: her server is there.
      await tap(alice, sel('user-settings'));
      await tap(alice, '[role=tab]:first-child');
      // The two-factor section loads after the tab opens and moves Sign out down: click it once still.
      await alice.page.waitForSelector(sel('settings-2fa', '[data-enabled]'), { timeout: 10_000 });
      await tap(alice, sel('sign-out'));
      await alice.page.waitForSelector(sel('auth-submit'));
      await alice.page.type(sel('auth-email'), 'alice');
      await alice.page.type(sel('auth-password'), PASSWORD);
      await tap(alice, sel('auth-submit'));
      await alice.page.waitForSelector(sel('server-item', `[data-server-id="${serverId}"]`), { timeout: 10_000 });
      expect(await attribute(alice.page, 'current-user', 'data-user-id')).toBe(alice.userId);
      expectNoErrors();
    },
    25_000,
  );
});

// ---------------------------------------------------------------- helpers

/** Clicks an element once it is there. */
async function tap(p: Person, selector: string, options?: { count?: number }): Promise<void> {
  await p.page.waitForSelector(selector, { timeout: 5_000 });
  await p.page.click(selector, options);
}

async function clearAndType(p: Person, selector: string, value: string): Promise<void> {
  await tap(p, selector, { count: 3 });
  await p.page.keyboard.press('Backspace');
  await p.page.type(selector, value);
}

async function clearInput(p: Person): Promise<void> {
  await p.page.focus(sel('message-input'));
  await p.page.keyboard.down('Control');
  await p.page.keyboard.press('a');
  await p.page.keyboard.up('Control');
  await p.page.keyboard.press('Backspace');
}

async function send(p: Person, content: string): Promise<void> {
  await p.page.focus(sel('message-input'));
  await p.page.type(sel('message-input'), content);
  await p.page.keyboard.press('Enter');
}

/** Hovers a message (its actions show on hover or focus) and clicks one of its actions. */
async function messageAction(p: Person, messageId: string, action: string): Promise<void> {
  const message = `#message-${messageId}`;
  await p.page.hover(message);
  await tap(p, `${message} ${sel(action)}`);
}

function shownMessages(p: Person): Promise<ShownMessage[]> {
  return p.page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid=message-item]'), (el): ShownMessage => ({
      id: el.dataset.messageId ?? '',
      author: el.dataset.authorId ?? '',
      content: (el.querySelector('[data-testid=message-content]')?.textContent ?? '').replace(/\s*\(edited\)$/, ''),
      pending: el.dataset.pending ?? null,
      mentioned: el.dataset.mentioned === 'true',
      edited: el.querySelector('[data-testid=message-edited]') !== null,
      replyTo: el.querySelector('[data-testid=reply-ref]')?.getAttribute('data-reply-to') ?? null,
      reactions: Array.from(el.querySelectorAll('[data-testid=reaction]'), (r) => ({
        emoji: r.dataset.emoji ?? '',
        count: Number(r.dataset.count),
        me: r.getAttribute('aria-pressed') === 'true',
      })),
    })),
  );
}

async function waitForMessage(p: Person, match: (m: ShownMessage) => boolean, timeoutMs = 10_000): Promise<ShownMessage> {
  const ms = await waitUntil(`${p.name} shows the message`, () => shownMessages(p), (list) => list.some(match), timeoutMs);
  return ms.find(match)!;
}

function text(p: Person, selector: string): Promise<string> {
  return p.page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector);
}

function memberPresence(p: Person): Promise<Record<string, string>> {
  return p.page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll('[data-testid=member-item]'), (el) => [el.dataset.userId ?? '', el.dataset.presence ?? ''])));
}

function occupants(p: Person): Promise<string[]> {
  return p.page.evaluate(() => Array.from(document.querySelectorAll('[data-testid=voice-occupant]'), (el) => el.dataset.userId ?? ''));
}

/** Creates a channel through the server menu and returns its id (the app opens it). */
async function createChannel(p: Person, kind: 'text' | 'voice', name: string): Promise<string> {
  await tap(p, sel('server-menu'));
  await tap(p, sel('channel-create'));
  await tap(p, sel('channel-kind', `[value=${kind}]`));
  await p.page.type(sel('channel-name'), name);
  await tap(p, sel('channel-create-submit'));
  return waitUntil(
    `${name} is open`,
    () => p.page.evaluate(() => document.querySelector('[data-testid=channel-item][aria-current=page]')?.getAttribute('data-channel-id') ?? ''),
    (id) => !!id && id !== generalId,
  );
}

async function api<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const response = await fetch(`${platform.url}/api${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** Someone who signs up and joins with the invite through the API; their token is kept for seeding. */
const helperTokens = new Map<string, string>();
async function joinThroughApi(name: string): Promise<string> {
  const session = await api<{ token: string; user: { id: string } }>('POST', '/auth/local/signup', null, { username: name, password: PASSWORD, displayName: name[0]!.toUpperCase() + name.slice(1) });
  await api('POST', `/invites/${inviteCode}/accept`, session.token);
  helperTokens.set(name, session.token);
  return session.user.id;
}

/** Writes HISTORY messages into #history through the API, as a helper who joins with the invite. */
async function seedHistory(): Promise<void> {
  await joinThroughApi('scribe');
  const token = helperTokens.get('scribe')!;
  for (let n = 1; n <= HISTORY; n++) await api('POST', `/channels/${historyId}/messages`, token, { content: `history ${n}` });
}

/** No console error or uncaught exception in a live browser, no error logged by the platform. */
function expectNoErrors(): void {
  expect(people.filter((p) => !p.killed).flatMap((p) => p.errors.map((e) => `${p.name}: ${e}`))).toEqual([]);
  expect(platform.errors()).toEqual([]);
}
