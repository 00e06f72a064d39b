import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Compare-and-set: a scheduled callback whose due time has come becomes queued. Returns the ids
 * that moved (none if the job ran twice, late, or after the callback changed).
 */
export async function queueIfDue(
  db: Db,
  ids: string[] | null,
  now: Date,
  limit = 1000,
  domains?: string[],
): Promise<{ id: string; domain: string }[]> {
  const res = await sql<{ id: string; domain: string }>`
    UPDATE callbacks c SET status = 'queued', queued_at = ${now}, updated_at = ${now}
    WHERE c.id IN (
      SELECT id FROM callbacks
      WHERE status = 'scheduled' AND due_at <= ${now}
        ${ids ? sql`AND id = ANY(${ids}::uuid[])` : sql``}
        ${domains ? sql`AND domain = ANY(${domains}::text[])` : sql``}
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    AND c.status = 'scheduled'
    RETURNING c.id, c.domain`.execute(db);
  return res.rows;
}
