import type { AccessService } from '../access/access';
import { ChannelEvents } from './events';
import { RecordingPublisher } from '@concord/testkit/src/recording-publisher';
import { sleep } from '@concord/testkit/src/wait';

const typing = (userId: string) => ({ serverId: 's', channelId: 'c', userId });

function setup(audience: (channelId: string, call: number) => Promise<string[]>) {
  let calls = 0;
  const access = { channelAudience: (channelId: string) => audience(channelId, ++calls) } as unknown as AccessService;
  const publisher = new RecordingPublisher();
  const warnings: unknown[] = [];
  const events = new ChannelEvents(access, publisher, { warn: (...args: unknown[]) => void warnings.push(args) });
  return { events, publisher, warnings, calls: () => calls };
}

test("a channel's events leave in order; those waiting together share one audience lookup; `except` is left out", async () => {
  const { events, publisher, calls } = setup(async () => {
    await sleep(20);
    return ['u1', 'u2', 'u3'];
  });
  events.publish('c', 'typing:started', typing('u1'));
  events.publish('c', 'typing:started', typing('u2'), 'u2');
  events.publish('c', 'typing:started', typing('u3'));
  events.publish('other', 'typing:started', typing('u9'));
  await events.drain();
  expect(publisher.published.map((p) => [p.data.userId, p.userIds])).toEqual([
    ['u1', ['u1', 'u2', 'u3']],
    ['u9', ['u1', 'u2', 'u3']],
    ['u2', ['u1', 'u3']],
    ['u3', ['u1', 'u2', 'u3']],
  ]);
  // c: the first event alone, then the two that waited for it together; other: one.
  expect(calls()).toBe(3);
});

test('failures are logged and do not stop later events; an event queued after the sender finished still goes out', async () => {
  const { events, publisher, warnings } = setup(async (_channel, call) => {
    if (call === 1) throw new Error('database down');
    return ['u1'];
  });
  events.publish('c', 'typing:started', typing('lost'));
  await events.drain();
  expect(publisher.published).toEqual([]);
  expect(warnings).toHaveLength(1);

  const failingOnce = publisher.publish.bind(publisher);
  let failed = false;
  publisher.publish = async (...args: Parameters<typeof failingOnce>) => {
    if (!failed) {
      failed = true;
      throw new Error('Redis down');
    }
    return failingOnce(...args);
  };
  events.publish('c', 'typing:started', typing('a'));
  events.publish('c', 'typing:started', typing('b'));
  await events.drain();
  expect(publisher.published.map((p) => p.data.userId)).toEqual(['b']);
  expect(warnings).toHaveLength(2);

  // Queued from a continuation right as the sender finds nothing more to send.
  events.publish('c', 'typing:started', typing('c'));
  await Promise.resolve();
  events.publish('c', 'typing:started', typing('d'));
  await events.drain();
  expect(publisher.published.map((p) => p.data.userId)).toEqual(['b', 'c', 'd']);
});
