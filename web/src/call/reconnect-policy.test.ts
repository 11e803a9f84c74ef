import { describe, expect, it } from '@jest/globals';
import { ProtocolError } from '@concord/protocol';
import { DefaultReconnectPolicy } from './reconnect-policy';
import type { ReconnectContext } from './reconnect-policy';

const ctx = (attempt: number, extra: Partial<ReconnectContext> = {}): ReconnectContext => ({
  attempt,
  elapsedMs: 0,
  reason: 'signaling',
  ...extra,
});

describe('DefaultReconnectPolicy', () => {
  const policy = new DefaultReconnectPolicy({ baseDelayMs: 500, maxDelayMs: 4000, maxAttempts: 6, jitter: 0 });

  it('retries at once, then backs off exponentially up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => policy.nextRetryDelayMs(ctx(a)))).toEqual([0, 500, 1000, 2000, 4000, 4000]);
  });

  it('gives up after maxAttempts or maxElapsedMs', () => {
    expect(policy.nextRetryDelayMs(ctx(6))).toBeNull();
    const short = new DefaultReconnectPolicy({ maxElapsedMs: 1000 });
    expect(short.nextRetryDelayMs(ctx(1, { elapsedMs: 1000 }))).toBeNull();
  });

  it('never retries an error a new try cannot fix', () => {
    expect(policy.nextRetryDelayMs(ctx(1, { error: new ProtocolError('UNAUTHENTICATED', 'x') }))).toBeNull();
    expect(policy.nextRetryDelayMs(ctx(1, { error: new ProtocolError('FORBIDDEN', 'x') }))).toBeNull();
    expect(policy.nextRetryDelayMs(ctx(1, { error: new ProtocolError('UNAVAILABLE', 'x') }))).toBe(500);
  });

  it('spreads delays by the jitter fraction', () => {
    const low = new DefaultReconnectPolicy({ baseDelayMs: 1000, jitter: 0.2, random: () => 0 });
    const high = new DefaultReconnectPolicy({ baseDelayMs: 1000, jitter: 0.2, random: () => 1 });
    expect(low.nextRetryDelayMs(ctx(1))).toBe(800);
    expect(high.nextRetryDelayMs(ctx(1))).toBe(1200);
  });
});
