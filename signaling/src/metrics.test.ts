import { metricTotal } from '@concord/testkit/src/metric-values';
import { startHarness, type Harness } from '@concord/testkit/src/signaling';
import { errorCode, ok } from '@concord/testkit/src/voice-client';

/*
 * Signaling's metrics against a real signaling instance on a real SFU node: sockets and users,
 * voice requests by event and result, joins with their latency, placements by node and the SFU
 * control round trips — and no room or user id in any label.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const total = (name: string, labels: Record<string, string> = {}): Promise<number> => metricTotal(h.signaling.metrics.registry, name, labels);

test('sockets, users, requests, joins, placements and SFU round trips', async () => {
  const room = 'metrics-room-4711';
  expect(await total('concord_signaling_sockets')).toBe(0);
  expect(await total('concord_signaling_voice_join_duration_seconds_count', { result: 'ok' })).toBe(0);

  const { socket: alice } = await h.joinedClient('alice', room);
  const { socket: bob } = await h.joinedClient('bob', room);
  const secondTab = await h.connectClient('alice');
  expect(await total('concord_signaling_sockets')).toBe(3);
  expect(await total('concord_signaling_users')).toBe(2);

  await ok(alice, 'voice:createTransport', { direction: 'send' });
  // Refused requests count by their error code.
  expect(await errorCode(secondTab, 'voice:createTransport', { direction: 'send' })).toBe('NOT_IN_ROOM');
  expect(await errorCode(bob, 'voice:join', { grant: 'not-a-grant' })).toBe('GRANT_INVALID');

  expect(await total('concord_signaling_voice_join_duration_seconds_count', { result: 'ok' })).toBe(2);
  expect(await total('concord_signaling_voice_join_duration_seconds_count', { result: 'GRANT_INVALID' })).toBe(1);
  expect(await total('concord_signaling_request_duration_seconds_count', { event: 'voice:createTransport', result: 'ok' })).toBe(1);
  expect(await total('concord_signaling_request_duration_seconds_count', { event: 'voice:createTransport', result: 'NOT_IN_ROOM' })).toBe(1);
  expect(await total('concord_signaling_room_placements_total', { node: h.node.id })).toBe(2);
  // Two joins and a createTransport went to the node, each timed.
  expect(await total('concord_signaling_sfu_request_duration_seconds_count', { request: 'peer.join', result: 'ok' })).toBe(2);
  expect(await total('concord_signaling_sfu_request_duration_seconds_count', { request: 'peer.request', result: 'ok' })).toBe(1);
  expect(await total('concord_signaling_sfu_request_duration_seconds_sum')).toBeGreaterThan(0);

  const text = await h.signaling.metrics.registry.metrics();
  for (const id of [room, 'alice', 'bob']) expect(text).not.toContain(id);
  expect(text).toContain('process_resident_memory_bytes');

  secondTab.close();
  bob.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await total('concord_signaling_sockets')).toBe(1);
  expect(await total('concord_signaling_users')).toBe(1);
});
