import { sql, type RawBuilder } from 'kysely';
import { PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';

/**
 * CTEs `due` and `moved (id, domain)`: scheduled callbacks whose due time has come, narrowed by
 * `filter`, become queued (compare-and-set; rows another transaction holds are skipped).
 */
function moveDue(now: Date, limit: number, filter: RawBuilder<unknown>) {
  return sql`due AS (
      SELECT id FROM callbacks
      WHERE status = 'scheduled' AND due_at <= ${now} ${filter}
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE callbacks c SET status = 'queued', queued_at = ${now}, updated_at = ${now}
      FROM due WHERE c.id = due.id AND c.status = 'scheduled'
      RETURNING c.id, c.domain
    )`;
}

/**
 * Compare-and-set: a scheduled callback whose due time has come becomes queued. Returns the ids
 * that moved (none if the job ran twice, late, or after the callback changed); the caller
 * records their events in the same transaction.
 */
/** Scheduled callbacks queueIfDue moves at most per statement. */
export const QUEUE_DUE_BATCH = 1000;

export async function queueIfDue(
  db: Db,
  ids: string[] | null,
  now: Date,
  limit = QUEUE_DUE_BATCH,
  domains?: string[],
): Promise<{ id: string; domain: string }[]> {
  const filter = sql`${ids ? sql`AND id = ANY(${ids}::uuid[])` : sql``}
        ${domains ? sql`AND domain = ANY(${domains}::text[])` : sql``}`;
  const res = await sql<{ id: string; domain: string }>`
    WITH ${moveDue(now, limit, filter)}
    SELECT id, domain FROM moved`.execute(db);
  return res.rows;
}

/**
 * As queueIfDue for the overdue callbacks of some domains (a pull, whose informateur must not
 * wait for a late timer), with their 'queued' events written by the same statement.
 */
export async function queueOverdueOf(
  db: Db,
  domains: string[],
  now: Date,
  limit: number,
): Promise<{ id: string; domain: string }[]> {
  const res = await sql<{ id: string; domain: string }>`${PREPARED}
    WITH ${moveDue(now, limit, sql`AND domain = ANY(${domains}::text[])`)}, moved_events AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT id, 'queued', 'scheduled', 'queued', 'system', ${now}, '{}'::jsonb FROM moved
    )
    SELECT id, domain FROM moved`.execute(db);
  return res.rows;
}
