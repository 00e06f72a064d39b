import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Anonymises finished callbacks that ended before `endedBefore`: the phone number, the
 * subject and what the informateurs typed (notes, where a call was redirected) are erased; what
 * remains (domain, window, statuses, outcome) is statistics. Returns how many were anonymised in
 * this batch. (migrations/0007 erased the redirections of callbacks anonymised before they were.)
 */
export async function anonymiseEnded(db: Db, endedBefore: Date, now: Date, limit: number): Promise<number> {
  const res = await sql<{ id: string }>`
    WITH batch AS (
      SELECT id FROM callbacks
      WHERE ended_at IS NOT NULL AND anonymised_at IS NULL AND ended_at < ${endedBefore}
      ORDER BY ended_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ), events AS (
      UPDATE callback_events e SET data = e.data - 'note' - 'redirectedTo'
      FROM batch WHERE e.callback_id = batch.id AND e.data ?| array['note', 'redirectedTo']
    )
    UPDATE callbacks c
    SET phone = NULL, phone_region = NULL, subject = NULL, redirected_to = NULL, anonymised_at = ${now}
    FROM batch WHERE c.id = batch.id
    RETURNING c.id`.execute(db);
  return res.rows.length;
}
