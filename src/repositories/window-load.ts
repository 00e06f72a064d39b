import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/** Booked count of each window of a domain whose start lies in [from, to). Keyed by epoch ms. */
export async function bookedInRange(
  db: Db,
  domain: string,
  from: Date,
  to: Date,
): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('window_load')
    .select(['window_start', 'booked'])
    .where('domain', '=', domain)
    .where('window_start', '>=', from)
    .where('window_start', '<', to)
    .execute();
  return new Map(rows.map((r) => [r.window_start.getTime(), r.booked]));
}

/**
 * Takes one place in a window if fewer than `capacity` are booked: one guarded statement,
 * so concurrent bookings can never exceed the capacity. Returns false when the window is full.
 */
export async function takePlace(
  db: Db,
  domain: string,
  windowStart: Date,
  capacity: number,
): Promise<boolean> {
  if (capacity <= 0) return false;
  const res = await sql<{ booked: number }>`
    INSERT INTO window_load AS w (domain, window_start, booked) VALUES (${domain}, ${windowStart}, 1)
    ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + 1 WHERE w.booked < ${capacity}
    RETURNING booked`.execute(db);
  return res.rows.length === 1;
}

/** Gives a place back (cancel, move). Never goes below zero. */
export async function releasePlace(db: Db, domain: string, windowStart: Date): Promise<void> {
  await db
    .updateTable('window_load')
    .set((eb) => ({ booked: eb('booked', '-', 1) }))
    .where('domain', '=', domain)
    .where('window_start', '=', windowStart)
    .where('booked', '>', 0)
    .execute();
}

/**
 * Announces on `channel` that the windows of `domains` changed, for changes whose own
 * transaction deferred it (rappel_book: see migrations/0004). One statement, its own commit.
 */
export async function announceSlotChanges(db: Db, channel: string, domains: string[]): Promise<void> {
  await sql`SELECT pg_notify(${channel}, d) FROM unnest(${domains}::text[]) AS d`.execute(db);
}
