import { SessionResponse } from '@concord/protocol';
import { createServer, expectStatus, startGuildApi, type GuildTestApi } from '@concord/testkit/src/api';
import { metricTotal } from '@concord/testkit/src/metric-values';

/*
 * The API's metrics on a running API over PostgreSQL and Redis: requests labelled by route
 * template (never the ids in the path), sign-ins by result, messages, rate-limit refusals by
 * rule and the database pool and statements.
 */

let t: GuildTestApi;

beforeAll(async () => {
  t = await startGuildApi();
});

afterAll(async () => {
  await t?.close();
});

const total = (name: string, labels: Record<string, string> = {}): Promise<number> => metricTotal(t.api.deps.metrics.registry, name, labels);

test('requests by route template, sign-ins, messages, refusals and the database', async () => {
  const alice = await t.signUp('alice');
  const server = await createServer(t, alice);
  const username = `metrics${Date.now() % 100_000}`;
  expectStatus(await t.call('POST', '/api/auth/local/signup', { json: { username, password: 'correct horse battery' } }), 201);
  SessionResponse.parse(expectStatus(await t.call('POST', '/api/auth/local/signin', { json: { username, password: 'correct horse battery' } }), 200));
  expect((await t.call('POST', '/api/auth/local/signin', { json: { username, password: 'wrong horse battery' } })).status).toBe(401);

  const messages = `/api/channels/${server.textChannelId}/messages`;
  // The same text a fourth time within 30 s is refused as a duplicate.
  for (let i = 0; i < 3; i += 1) expectStatus(await t.call('POST', messages, { token: alice.token, json: { content: 'same again' } }), 201);
  expect((await t.call('POST', messages, { token: alice.token, json: { content: 'same again' } })).status).toBe(429);
  expect((await t.call('GET', `/api/servers/${server.id}/no-such-thing`, { token: alice.token })).status).toBe(404);

  const route = '/api/channels/:channelId/messages';
  expect(await total('concord_api_http_request_duration_seconds_count', { route, method: 'POST', status: '201' })).toBe(3);
  expect(await total('concord_api_http_request_duration_seconds_count', { route, method: 'POST', status: '429' })).toBe(1);
  expect(await total('concord_api_http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBe(1);
  expect(await total('concord_api_sign_ins_total', { method: 'local', result: 'ok' })).toBe(1);
  expect(await total('concord_api_sign_ins_total', { method: 'local', result: 'invalid_credentials' })).toBe(1);
  expect(await total('concord_api_messages_created_total')).toBe(3);
  expect(await total('concord_api_rate_limit_refusals_total', { rule: 'duplicate' })).toBe(1);
  expect(await total('concord_api_db_query_duration_seconds_count', { operation: 'insert', result: 'ok' })).toBeGreaterThanOrEqual(3);
  expect(await total('concord_api_db_query_duration_seconds_count', { operation: 'select' })).toBeGreaterThan(0);
  expect(await total('concord_api_db_pool_connections', { state: 'idle' })).toBeGreaterThan(0);
  expect(await total('concord_api_db_pool_connections', { state: 'in_use' })).toBe(0);
  expect(await total('concord_api_db_pool_waiting_requests')).toBe(0);

  // Ids in paths never become labels.
  const text = await t.api.deps.metrics.registry.metrics();
  for (const id of [server.id, server.textChannelId, alice.id, username]) expect(text).not.toContain(id);
  expect(text).toContain('process_cpu_seconds_total');
});
