import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/** Counts one hit in a fixed window; returns the count so far in that window. */
export async function hit(db: Db, bucket: string, windowStart: Date, resetAt: Date): Promise<number> {
  const res = await sql<{ count: number }>`
    INSERT INTO rate_limits AS r (bucket, count, reset_at) VALUES (${bucket}, 1, ${resetAt})
    ON CONFLICT (bucket) DO UPDATE SET
      count = CASE WHEN r.reset_at <= ${windowStart} THEN 1 ELSE r.count + 1 END,
      reset_at = CASE WHEN r.reset_at <= ${windowStart} THEN ${resetAt} ELSE r.reset_at END
    RETURNING count`.execute(db);
  return res.rows[0]?.count ?? 1;
}

/** Takes one hit back, in the same window only (a later window has started afresh). */
export async function unhit(db: Db, bucket: string, resetAt: Date): Promise<void> {
  await sql`
    UPDATE rate_limits SET count = count - 1
    WHERE bucket = ${bucket} AND reset_at = ${resetAt} AND count > 0`.execute(db);
}

export async function purgeExpired(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('rate_limits').where('reset_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
