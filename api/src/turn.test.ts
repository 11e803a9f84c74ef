import { createHmac } from 'node:crypto';
import { turnCredential, turnIceServers } from './turn';

const SECRET = 'a-shared-secret-of-some-length';

test('a credential is base64(HMAC-SHA1(secret, "<expiry>:<userId>")), as coturn computes it', () => {
  const { username, credential } = turnCredential(SECRET, 'user-1', 1_900_000_000);
  expect(username).toBe('1900000000:user-1');
  expect(credential).toBe(createHmac('sha1', SECRET).update('1900000000:user-1').digest('base64'));
  // A fixed vector, so a change of algorithm or encoding shows.
  expect(turnCredential('secret', 'alice', 1).credential).toBe('1l1sATkr91dryzDc20zLkBm+aTI=');
  expect(Buffer.from(credential, 'base64')).toHaveLength(20);
});

test('another secret, user or expiry gives another credential', () => {
  const base = turnCredential(SECRET, 'user-1', 100).credential;
  expect(turnCredential(`${SECRET}x`, 'user-1', 100).credential).not.toBe(base);
  expect(turnCredential(SECRET, 'user-2', 100).credential).not.toBe(base);
  expect(turnCredential(SECRET, 'user-1', 101).credential).not.toBe(base);
});

test("a grant's ICE servers expire ttl seconds from now and never carry the secret", () => {
  const now = Date.UTC(2026, 0, 1);
  const servers = turnIceServers({ urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp'], secret: SECRET, ttlSeconds: 3600 }, 'u9', now);
  expect(servers).toEqual([
    { urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp'], username: `${now / 1000 + 3600}:u9`, credential: expect.any(String) },
  ]);
  expect(JSON.stringify(servers)).not.toContain(SECRET);
});
