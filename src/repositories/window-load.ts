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
 * Takes `count` places in a window if `capacity` still holds them all: one guarded statement,
 * so concurrent bookings can never exceed the capacity. Returns false, taking none, when the
 * window has fewer places left.
 */
export async function takePlace(
  db: Db,
  domain: string,
  windowStart: Date,
  capacity: number,
  count = 1,
): Promise<boolean> {
  if (count < 1 || count > capacity) return false;
  const res = await sql<{ booked: number }>`
    INSERT INTO window_load AS w (domain, window_start, booked) VALUES (${domain}, ${windowStart}, ${count})
    ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + ${count}
    WHERE w.booked + ${count} <= ${capacity}
    RETURNING booked`.execute(db);
  return res.rows.length === 1;
}

/** Gives a place back (cancel, move). Never goes below zero. */
export async function releasePlace(db: Db, domain: string, windowStart: Date): Promise<void> {
  await releasePlaces(db, domain, [windowStart]);
}

/** Gives back one place per entry of `windowStarts` (a window may repeat), in one statement. */
export async function releasePlaces(db: Db, domain: string, windowStarts: readonly Date[]): Promise<void> {
  if (windowStarts.length === 0) return;
  await sql`
    UPDATE window_load w SET booked = greatest(w.booked - r.n, 0)
    FROM (
      SELECT s, count(*)::int AS n FROM unnest(${windowStarts.map((d) => d.toISOString())}::timestamptz[]) AS s
      GROUP BY s
    ) r
    WHERE w.domain = ${domain} AND w.window_start = r.s AND w.booked > 0`.execute(db);
}

/**
 * Announces on `channel` that the windows of `domains` changed, for changes whose own
 * transaction deferred it (rappel_book: see migrations/0004). One statement, its own commit.
 */
export async function announceSlotChanges(db: Db, channel: string, domains: string[]): Promise<void> {
  await sql`SELECT pg_notify(${channel}, d) FROM unnest(${domains}::text[]) AS d`.execute(db);
}

/** A window holding more bookings than its domain's active informateurs now give it places. */
export interface WindowOverCapacity {
  domain: string;
  windowStart: Date;
  booked: number;
  capacity: number;
  /** The bookings still to be called in it, in booking order. */
  references: string[];
}

/**
 * The windows starting from `from` whose bookings exceed their domain's capacity as given
 * (`capacities`, from the active informateurs now): bookings are never taken back, so ops must
 * be told. At most `maxWindows` windows, in time order, each with its first `maxReferences`
 * bookings still to call (`booked` counts them all).
 */
export async function windowsOverCapacity(
  db: Db,
  from: Date,
  capacities: readonly { domain: string; capacity: number }[],
  limits: { maxWindows: number; maxReferences: number },
): Promise<WindowOverCapacity[]> {
  const domains = capacities.map((c) => c.domain);
  const res = await sql<{
    domain: string;
    window_start: Date;
    booked: number;
    capacity: number;
    refs: string[];
  }>`
    WITH cap AS MATERIALIZED (
      SELECT * FROM unnest(${domains}::text[], ${capacities.map((c) => c.capacity)}::int[]) AS t(domain, capacity)
    )
    SELECT w.domain, w.window_start, w.booked, cap.capacity,
           ARRAY(SELECT c.reference FROM callbacks c
                 WHERE c.domain = w.domain AND c.window_start = w.window_start
                   AND c.mode = 'slot' AND c.status = 'scheduled'
                 ORDER BY c.id LIMIT ${limits.maxReferences}) AS refs
    FROM cap JOIN window_load w ON w.domain = cap.domain AND w.booked > cap.capacity
    WHERE w.domain = ANY(${domains}::text[]) AND w.window_start >= ${from}
    ORDER BY w.window_start, w.domain
    LIMIT ${limits.maxWindows}`.execute(db);
  return res.rows.map((r) => ({
    domain: r.domain,
    windowStart: r.window_start,
    booked: r.booked,
    capacity: r.capacity,
    references: r.refs,
  }));
}
