import type { Db } from '../db/schema.js';

export interface OutboxRow {
  id: number;
  jobName: string;
  jobId: string;
  payload: Record<string, unknown>;
  runAt: Date;
}

export async function enqueueOutbox(db: Db, row: Omit<OutboxRow, 'id'>, createdAt: Date): Promise<number> {
  const [id] = await enqueueOutboxRows(db, [row], createdAt);
  return id!;
}

/** Several outbox rows in one statement: their ids (for relayNow). */
export async function enqueueOutboxRows(
  db: Db,
  rows: readonly Omit<OutboxRow, 'id'>[],
  createdAt: Date,
): Promise<number[]> {
  if (rows.length === 0) return [];
  const inserted = await db
    .insertInto('outbox')
    .values(
      rows.map((row) => ({
        job_name: row.jobName,
        job_id: row.jobId,
        payload: JSON.stringify(row.payload),
        run_at: row.runAt,
        created_at: createdAt,
      })),
    )
    .returning('id')
    .execute();
  return inserted.map((r) => r.id);
}

const toRow = (r: {
  id: number;
  job_name: string;
  job_id: string;
  payload: Record<string, unknown>;
  run_at: Date;
}): OutboxRow => ({
  id: r.id,
  jobName: r.job_name,
  jobId: r.job_id,
  payload: r.payload,
  runAt: r.run_at,
});

/** The oldest `limit` unsent rows, without locking them (a concurrent sweep may send them too). */
export async function oldestUnsent(db: Db, limit: number): Promise<OutboxRow[]> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'job_name', 'job_id', 'payload', 'run_at'])
    .where('sent_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toRow);
}

/** These rows if still unsent, without locking them (a concurrent sweep may send them too). */
export async function readUnsent(db: Db, ids: number[]): Promise<OutboxRow[]> {
  const rows = await db
    .selectFrom('outbox')
    .select(['id', 'job_name', 'job_id', 'payload', 'run_at'])
    .where('id', 'in', ids)
    .where('sent_at', 'is', null)
    .orderBy('id')
    .execute();
  return rows.map(toRow);
}

export async function markSent(db: Db, ids: number[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ sent_at: at })
    .where('id', 'in', ids)
    .where('sent_at', 'is', null)
    .execute();
}

/** Sent rows are only a trace: drop them after a day. */
export async function purgeSent(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom('outbox').where('sent_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
