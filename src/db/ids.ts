import { randomBytes } from 'node:crypto';

/**
 * A new row id: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds then 74 random bits.
 * Ids made one after another sort one after another, so a new callback's primary-key entry and
 * its events' index entries land on the same few index pages instead of a random page of a
 * million-row index, and the queue, which is claimed in roughly creation order, touches
 * neighbouring entries. After a checkpoint, the first change to a page writes the whole page to
 * the WAL: in the benchmark at 1,000,000 callbacks, a booking wrote 3.6 kB of WAL instead of
 * 10.9 kB with random version 4 ids, a pull or an outcome 2.3 kB instead of 6.0 kB. The time it
 * gives away is the row's creation instant, which the row stores anyway; the random bits keep
 * ids unguessable enough for an id that is never a credential.
 */
export function newId(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
