import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Counts one hit in a fixed window while the window holds fewer than `limit`; returns the count
 * with it, or null for a hit refused and not counted. A window seen full is refused without a
 * lock or a write (an upsert whose ON CONFLICT WHERE fails still locks the row, and so writes
 * and waits for its commit's flush); the upsert's WHERE settles a race for the last place.
 */
export async function hit(
  db: Db,
  bucket: string,
  limit: number,
  windowStart: Date,
  resetAt: Date,
): Promise<number | null> {
  const res = await sql<{ count: number }>`
    INSERT INTO rate_limits AS r (bucket, count, reset_at)
    SELECT ${bucket}::text, 1, ${resetAt}::timestamptz
    WHERE NOT EXISTS (
      SELECT 1 FROM rate_limits f
      WHERE f.bucket = ${bucket} AND f.reset_at > ${windowStart} AND f.count >= ${limit})
    ON CONFLICT (bucket) DO UPDATE SET
      count = CASE WHEN r.reset_at <= ${windowStart} THEN 1 ELSE r.count + 1 END,
      reset_at = CASE WHEN r.reset_at <= ${windowStart} THEN ${resetAt} ELSE r.reset_at END
    WHERE r.reset_at <= ${windowStart} OR r.count < ${limit}
    RETURNING count`.execute(db);
  return res.rows[0]?.count ?? null;
}

/** Takes one hit back, in the same window only (a later window has started afresh). */
export async function unhit(db: Db, bucket: string, resetAt: Date): Promise<void> {
  await sql`
    UPDATE rate_limits SET count = count - 1
    WHERE bucket = ${bucket} AND reset_at = ${resetAt} AND count > 0`.execute(db);
}

/**
 * Whether `demandBucket` is marked in the window starting at `windowStart`, and whether the
 * window of `bucket` is full: read without a lock, so that the copies of a demand counted
 * already, and the demands refused, write nothing.
 */
export async function demandState(
  db: Db,
  bucket: string,
  demandBucket: string,
  limit: number,
  windowStart: Date,
): Promise<{ marked: boolean; full: boolean }> {
  const res = await sql<{ marked: boolean; full: boolean }>`
    SELECT
      EXISTS (SELECT 1 FROM rate_limits WHERE bucket = ${demandBucket} AND reset_at > ${windowStart}) AS marked,
      EXISTS (SELECT 1 FROM rate_limits WHERE bucket = ${bucket} AND reset_at > ${windowStart} AND count >= ${limit}) AS full`.execute(
    db,
  );
  const row = res.rows[0];
  return { marked: row?.marked ?? false, full: row?.full ?? false };
}

/**
 * Marks `demand` (a bucket of its own, `<bucket>@<demand>`) as counted in this window, unless it
 * is already: true if this call marked it. A concurrent mark of the same demand waits for this
 * transaction, then finds it marked (or marks it, if this one rolled back).
 */
export async function markDemand(
  db: Db,
  demandBucket: string,
  windowStart: Date,
  resetAt: Date,
): Promise<boolean> {
  const res = await sql<{ marked: number }>`
    INSERT INTO rate_limits AS r (bucket, count, reset_at) VALUES (${demandBucket}, 1, ${resetAt})
    ON CONFLICT (bucket) DO UPDATE SET count = 1, reset_at = ${resetAt}
    WHERE r.reset_at <= ${windowStart}
    RETURNING 1 AS marked`.execute(db);
  return res.rows.length > 0;
}

/** Removes the mark of a demand, in the same window only. */
export async function unmarkDemand(db: Db, demandBucket: string, resetAt: Date): Promise<void> {
  await sql`DELETE FROM rate_limits WHERE bucket = ${demandBucket} AND reset_at = ${resetAt}`.execute(db);
}

export async function purgeExpired(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('rate_limits').where('reset_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
