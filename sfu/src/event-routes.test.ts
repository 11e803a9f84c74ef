import type { RoomEventEnvelope } from '@concord/protocol';
import { EventRoutes } from './event-routes';

/* Where a room event goes, as the control server asks: logic only (control-server.test.ts and signaling's event-fanout.test.ts run it for real). */

const consumerPaused = (to: string[]): RoomEventEnvelope => ({ roomId: 'r', to, event: 'voice:consumerPaused', data: { consumerId: 'c', producerId: 'p' } });
const everyone: RoomEventEnvelope = { roomId: 'r', event: 'voice:activeSpeaker', data: { peerId: 'a' } };

test('an event for listed peers goes to the connections that joined them last; the room’s own events to every subscriber', () => {
  const routes = new EventRoutes<string>();
  routes.joined('r', 'a', 'one');
  routes.joined('r', 'b', 'two');
  routes.joined('r', 'c', 'two');
  expect(routes.recipients(consumerPaused(['a']))).toEqual(new Set(['one']));
  expect(routes.recipients(consumerPaused(['b', 'c']))).toEqual(new Set(['two']));
  expect(routes.recipients(consumerPaused(['a', 'b']))).toEqual(new Set(['one', 'two']));
  expect(routes.recipients(everyone)).toBeUndefined();
  expect(routes.recipients({ roomId: 'r', toSession: 's', event: 'voice:roomClosed', data: { roomId: 'r', reason: 'displaced' } })).toBeUndefined();

  // Taken over through another connection: the last join wins, as on the SFU.
  routes.joined('r', 'a', 'two');
  expect(routes.recipients(consumerPaused(['a']))).toEqual(new Set(['two']));
});

test('a peer it does not know (gone, or joined before a connection forgot it) sends the event to every subscriber', () => {
  const routes = new EventRoutes<string>();
  routes.joined('r', 'a', 'one');
  routes.joined('r', 'b', 'one');
  expect(routes.recipients(consumerPaused(['z']))).toBeUndefined();

  routes.recipients({ roomId: 'r', event: 'voice:peerLeft', data: { peerId: 'a' } });
  expect(routes.recipients(consumerPaused(['a']))).toBeUndefined();
  expect(routes.recipients(consumerPaused(['b']))).toEqual(new Set(['one']));

  routes.forget('one', 'r');
  expect(routes.recipients(consumerPaused(['b']))).toBeUndefined();
});

test('a connection gone, or the room closed, leaves no routes behind', () => {
  const routes = new EventRoutes<string>();
  routes.joined('r', 'a', 'one');
  routes.joined('q', 'a', 'one');
  routes.joined('q', 'b', 'two');
  routes.forget('one');
  expect(routes.recipients({ ...consumerPaused(['a']), roomId: 'q' })).toBeUndefined();
  expect(routes.recipients({ ...consumerPaused(['b']), roomId: 'q' })).toEqual(new Set(['two']));

  routes.recipients({ roomId: 'q', event: 'voice:roomClosed', data: { roomId: 'q', reason: 'worker died' } });
  expect(routes.recipients({ ...consumerPaused(['b']), roomId: 'q' })).toBeUndefined();
});
