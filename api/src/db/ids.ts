import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness. Ids sort by creation time, so
 * `ORDER BY id` is time order and a B-tree on `(channel_id, id)` serves "latest N messages".
 *
 * Within one process ids are strictly increasing (RFC 9562 §6.2 method 1): the 12-bit `rand_a`
 * and the top 30 bits of `rand_b` form a 42-bit counter, seeded at random each millisecond with
 * its top bit clear (at least 2^41 increments of headroom) and incremented for every further id
 * in the same millisecond. If the clock steps back we keep the last timestamp rather than go
 * backwards; if the counter ever overflows we borrow the next millisecond. The low 32 bits stay
 * random per id, so ids from different processes in the same millisecond still do not collide.
 */

const COUNTER_BITS = 42;
const COUNTER_MAX = 2 ** COUNTER_BITS - 1;
const random = Buffer.alloc(10);

let lastMs = -1;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  randomFillSync(random);
  if (now > lastMs) {
    lastMs = now;
    // 41 random bits (top counter bit clear): bytes 0..4 give 40 bits, plus one bit of byte 5.
    counter = (random.readUIntBE(0, 5) * 2 + (random[5]! & 1)) % 2 ** 41;
  } else if (counter < COUNTER_MAX) {
    counter += 1;
  } else {
    lastMs += 1;
    counter = 0;
  }

  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  // counter = 12 bits of rand_a, then 30 bits at the top of rand_b (after the 2 variant bits).
  const high = Math.floor(counter / 2 ** 30); // 12 bits
  const low = counter % 2 ** 30; // 30 bits
  bytes[6] = 0x70 | (high >>> 8); // version 7
  bytes[7] = high & 0xff;
  bytes.writeUInt32BE(((0b10 << 30) | low) >>> 0, 8); // variant 10xx
  random.copy(bytes, 12, 6, 10); // 32 random bits
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export const isUuidv7 = (id: string): boolean => UUID_V7.test(id);

/** The creation time (ms since the epoch) encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  if (!isUuidv7(id)) throw new TypeError(`not a UUIDv7: ${id}`);
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * The smallest UUIDv7 of a millisecond: `WHERE id >= uuidv7Floor(t)` selects rows created at or
 * after `t` through the same `(…, id)` index, e.g. to page messages by time.
 */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
