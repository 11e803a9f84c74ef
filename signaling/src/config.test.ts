import { loadSignalingConfig } from './config';

const SFU_SECRET = 'a-secret-of-enough-length';

test('the registry key prefix defaults to concord: and is read from REDIS_KEY_PREFIX', () => {
  expect(loadSignalingConfig({ SFU_SECRET }).redisKeyPrefix).toBe('concord:');
  expect(loadSignalingConfig({ SFU_SECRET, REDIS_KEY_PREFIX: '' }).redisKeyPrefix).toBe('concord:');
  expect(loadSignalingConfig({ SFU_SECRET, REDIS_KEY_PREFIX: 'concord-eu:' }).redisKeyPrefix).toBe('concord-eu:');
});

test("the API's base URL is API_URL, else the origin of API_JWKS_URL", () => {
  const API_JWKS_URL = 'http://api:3001/api/.well-known/jwks.json';
  expect(loadSignalingConfig({ SFU_SECRET, API_JWKS_URL }).apiUrl).toBe('http://api:3001');
  expect(loadSignalingConfig({ SFU_SECRET, API_JWKS_URL, API_URL: 'https://api.internal:8443' }).apiUrl).toBe('https://api.internal:8443');
  expect(loadSignalingConfig({ SFU_SECRET }).apiUrl).toBeUndefined();
});
