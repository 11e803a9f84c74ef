import { Writable } from 'node:stream';
import { createLogger } from './logger';

/** Log lines written to memory. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

test('JSON lines in ECS shape, with the service and node, and errors as error.*', () => {
  const { lines, destination } = capture();
  const log = createLogger({ service: 'api', nodeId: 'api-1', level: 'info', format: 'json', destination });
  log.child({ 'room.id': 'room-1' }).warn({ 'user.id': 'u1' }, 'joined');
  log.error({ err: new Error('boom') }, 'failed');
  log.debug('below the level');
  const [joined, failed] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines).toHaveLength(2);
  expect(joined).toMatchObject({ 'log.level': 'warn', message: 'joined', 'service.name': 'api', 'service.node.name': 'api-1', 'room.id': 'room-1', 'user.id': 'u1' });
  expect(new Date(joined!['@timestamp'] as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
  expect(failed).toMatchObject({ 'log.level': 'error', error: { type: 'Error', message: 'boom' } });
});

test('secrets are censored wherever a log call puts them', () => {
  const { lines, destination } = capture();
  const log = createLogger({ service: 'api', nodeId: 'api-1', level: 'info', format: 'json', destination });
  const secrets = ['eyJhbGciOiJFUzI1NiJ9.session', 'hunter2-password', 'eyJ.grant.jwt', 'session=abc', 'Bearer eyJ.header'];
  log.info({ token: secrets[0], body: { password: secrets[1] }, voice: { grant: secrets[2] } }, 'one');
  log.info({ req: { headers: { authorization: secrets[4], cookie: secrets[3] } } }, 'two');
  log.child({ password: secrets[1] }).info('three');
  const output = lines.join('\n');
  expect(lines).toHaveLength(3);
  for (const secret of secrets) expect(output).not.toContain(secret);
  expect(JSON.parse(lines[0]!)).toMatchObject({ token: '[redacted]', body: { password: '[redacted]' }, voice: { grant: '[redacted]' } });
});

test('pretty lines for a person: level, message and fields, no JSON', () => {
  const { lines, destination } = capture();
  createLogger({ service: 'concord', nodeId: 'n', level: 'info', format: 'pretty', destination }).info({ password: 'hunter2-password' }, 'hello');
  expect(lines.join('\n')).toMatch(/INFO.*hello/);
  expect(lines.join('\n')).not.toContain('hunter2-password');
  expect(() => JSON.parse(lines[0]!)).toThrow();
});
