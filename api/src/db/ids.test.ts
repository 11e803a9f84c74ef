import { isUuidv7, uuidv7, uuidv7Floor, uuidv7Time } from './ids';

const bits = (id: string) => BigInt(`0x${id.replace(/-/g, '')}`);

describe('uuidv7', () => {
  it('sets the version (7) and variant (10) bits and the timestamp', () => {
    const before = Date.now();
    const id = uuidv7();
    const value = bits(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((value >> 76n) & 0xfn).toBe(7n);
    expect((value >> 62n) & 0b11n).toBe(0b10n);
    expect(isUuidv7(id)).toBe(true);
    expect(uuidv7Time(id)).toBeGreaterThanOrEqual(before);
    expect(uuidv7Time(id)).toBeLessThanOrEqual(Date.now());
  });

  it('is strictly increasing within one millisecond', () => {
    const now = Date.now() + 10_000; // a millisecond no other test has used
    const ids = Array.from({ length: 10_000 }, () => uuidv7(now));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(ids.every((id) => uuidv7Time(id) === now)).toBe(true);
  });

  it('is increasing across milliseconds, and when the clock steps back', () => {
    const start = Date.now() + 20_000;
    const ids = [uuidv7(start), uuidv7(start + 1), uuidv7(start + 5), uuidv7(start + 2), uuidv7(start + 6)];
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(uuidv7Time(ids[3]!)).toBe(start + 5); // the clock went back: keep the last time
    expect(uuidv7Time(ids[4]!)).toBe(start + 6);
  });

  it('sorts as text the way it sorts as bits (so PostgreSQL uuid order is time order)', () => {
    const ids = Array.from({ length: 1000 }, () => uuidv7());
    const byText = [...ids].sort();
    const byBits = [...ids].sort((a, b) => (bits(a) < bits(b) ? -1 : 1));
    expect(byText).toEqual(byBits);
    expect(byText).toEqual(ids);
  });

  it('keeps random bits per id', () => {
    const now = Date.now() + 30_000;
    const low = new Set(Array.from({ length: 100 }, () => uuidv7(now).slice(-8)));
    expect(low.size).toBeGreaterThan(95);
  });

  it('floors a millisecond', () => {
    const now = Date.now() + 40_000;
    const floor = uuidv7Floor(now);
    expect(isUuidv7(floor)).toBe(true);
    expect(uuidv7Time(floor)).toBe(now);
    expect(uuidv7(now) > floor).toBe(true);
    expect(uuidv7Floor(now + 1) > uuidv7(now)).toBe(true);
    expect(() => uuidv7Time('00000000-0000-4000-8000-000000000000')).toThrow(TypeError);
  });
});
