import { loadSignalingConfig } from './config';

const SFU_SECRET = 'a-secret-of-enough-length';

test('the registry key prefix defaults to concord: and is read from REDIS_KEY_PREFIX', () => {
  expect(loadSignalingConfig({ SFU_SECRET }).redisKeyPrefix).toBe('concord:');
  expect(loadSignalingConfig({ SFU_SECRET, REDIS_KEY_PREFIX: '' }).redisKeyPrefix).toBe('concord:');
  expect(loadSignalingConfig({ SFU_SECRET, REDIS_KEY_PREFIX: 'concord-eu:' }).redisKeyPrefix).toBe('concord-eu:');
});
