import { pooledRandomBytes } from '../random.js';

/** The millisecond of the last id this process made, and the sequence its ids carry in it. */
let lastMs = -1;
let sequence = 0;
const SEQUENCE_MAX = 0xfff; // rand_a: the 12 bits after the version nibble
const SEQUENCE_SEED_MAX = 0x7ff; // a new millisecond starts in the lower half, so it has room

/**
 * A new row id: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds (the row's creation
 * instant on the business clock, which is the wall clock in production), a 12-bit sequence, then
 * 62 random bits. Ids made in different milliseconds sort by time, so new callbacks' primary-key
 * entries and their events' index entries land on the same few index pages instead of a random
 * page of a million-row index. After a checkpoint, the first change to a page writes the whole
 * page to the WAL: in the benchmark at 1,000,000 callbacks, each phase starting right after a
 * checkpoint (the costliest moment), a booking wrote 3.7 kB of WAL (1.0 kB of it whole pages)
 * instead of 11.3 kB (8.6 kB) with random version 4 ids. Calls touch older rows, in window order
 * rather than creation order, and gain less: 3.3 kB instead of 6.2 kB per pull or outcome.
 *
 * Ids one process makes in the same millisecond sort in the order it made them (RFC 9562's
 * method 3, a counter in rand_a, seeded at random in each millisecond): the queue serves the
 * callbacks of one window in booking order by their ids (migrations/0008), and a test's frozen
 * clock makes every id in one millisecond. Across processes, or past 2,048 ids in one
 * millisecond (the counter is then seeded again), ids of one millisecond sort in any order.
 *
 * The time it gives away is the row's creation instant, which the row stores anyway and which
 * the citizen who gets the id knows; the id is never a credential (a callback is reached by its
 * reference and cancel token).
 */
export function newId(nowMs: number): string {
  const b = pooledRandomBytes(16);
  // 48 bits hold 1970 to the year 10889; a development APP_NOW outside them is clamped, not a 500.
  const ms = Math.min(Math.max(Math.trunc(nowMs), 0), 2 ** 48 - 1);
  if (ms === lastMs && sequence < SEQUENCE_MAX) {
    sequence += 1;
  } else {
    lastMs = ms;
    sequence = ((b[6]! << 8) | b[7]!) & SEQUENCE_SEED_MAX;
  }
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (sequence >> 8); // version 7, then the sequence's high nibble
  b[7] = sequence & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `s` is a UUID as PostgreSQL reads one (in its canonical writing): an id from a path
 * or a cursor is checked with this before it reaches a query, where a malformed one would be a
 * 500 (invalid input syntax for type uuid) instead of a 404 or a 400.
 */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
