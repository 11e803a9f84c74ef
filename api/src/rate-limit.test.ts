import { InMemoryRateLimiter } from './rate-limit';

test('fixed window: limit per key, reset after the window, Retry-After to the window end', async () => {
  let now = 1_000_000;
  const limiter = new InMemoryRateLimiter(2, 60_000, () => now);
  expect(await limiter.consume('a')).toEqual({ allowed: true });
  expect(await limiter.consume('a')).toEqual({ allowed: true });
  now += 15_500;
  expect(await limiter.consume('a')).toEqual({ allowed: false, retryAfterSeconds: 45 });
  expect(await limiter.consume('b')).toEqual({ allowed: true });
  now += 44_500;
  expect(await limiter.consume('a')).toEqual({ allowed: true });
});
