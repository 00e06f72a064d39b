import { sql } from 'kysely';
import { PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';

/** Scheduled callbacks queueIfDue moves at most per statement. */
export const QUEUE_DUE_BATCH = 1000;

/**
 * Compare-and-set (rows another transaction holds are skipped): scheduled callbacks whose due
 * time has come become queued, their 'queued' events written by the same statement. `ids` and
 * `domains` narrow it (the due job names its callback, a pull its informateur's domains).
 * Returns what moved: nothing if the job ran twice, late, or after the callback changed.
 */
export async function queueIfDue(
  db: Db,
  ids: string[] | null,
  now: Date,
  limit = QUEUE_DUE_BATCH,
  domains?: string[],
): Promise<{ id: string; domain: string }[]> {
  const filter = sql`${ids ? sql`AND id = ANY(${ids}::uuid[])` : sql``}
        ${domains ? sql`AND domain = ANY(${domains}::text[])` : sql``}`;
  const res = await sql<{ id: string; domain: string }>`${PREPARED}
    WITH due AS (
      SELECT id FROM callbacks
      WHERE status = 'scheduled' AND due_at <= ${now} ${filter}
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE callbacks c SET status = 'queued', queued_at = ${now}, updated_at = ${now}
      FROM due WHERE c.id = due.id AND c.status = 'scheduled'
      RETURNING c.id, c.domain
    ), moved_events AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT id, 'queued', 'scheduled', 'queued', 'system', ${now}, '{}'::jsonb FROM moved
    )
    SELECT id, domain FROM moved`.execute(db);
  return res.rows;
}

/** The callback's domain if it is queued (waiting for an informateur), else null. */
export async function queuedDomainOf(db: Db, id: string): Promise<string | null> {
  const row = await db
    .selectFrom('callbacks')
    .select('domain')
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return row?.domain ?? null;
}
