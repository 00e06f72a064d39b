import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import type { Closure } from '../domain/calendar/index.js';

export interface ClosureRecord extends Closure {
  createdAt: Date;
}

/** A closures row (as selected, or as JSON with its timestamp as text) as the domain sees it. */
export function toClosure(r: {
  id: string;
  date: string;
  start_time: string | null;
  end_time: string | null;
  reason: string;
  created_at: Date | string;
}): ClosureRecord {
  return {
    id: r.id,
    date: r.date,
    start: r.start_time,
    end: r.end_time,
    reason: r.reason,
    createdAt: new Date(r.created_at),
  };
}

const COLUMNS = ['id', 'date', 'start_time', 'end_time', 'reason', 'created_at'] as const;

/** Closures whose date lies in [fromDate, toDate] (Paris dates, inclusive). */
export async function listClosures(db: Db, fromDate: string, toDate: string): Promise<ClosureRecord[]> {
  const rows = await db
    .selectFrom('closures')
    .select(COLUMNS)
    .where('date', '>=', fromDate)
    .where('date', '<=', toDate)
    .orderBy('date')
    .orderBy('start_time')
    .execute();
  return rows.map(toClosure);
}

export async function listAllClosures(db: Db, fromDate: string): Promise<ClosureRecord[]> {
  const rows = await db
    .selectFrom('closures')
    .select(COLUMNS)
    .where('date', '>=', fromDate)
    .orderBy('date')
    .orderBy('start_time')
    .execute();
  return rows.map(toClosure);
}

export async function insertClosure(db: Db, c: Closure, createdAt: Date): Promise<ClosureRecord> {
  const row = await db
    .insertInto('closures')
    .values({
      id: c.id,
      date: c.date,
      start_time: c.start,
      end_time: c.end,
      reason: c.reason,
      created_at: createdAt,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toClosure(row);
}

/** The deleted closure, or null when none has this id. */
export async function deleteClosure(db: Db, id: string): Promise<ClosureRecord | null> {
  const row = await db.deleteFrom('closures').where('id', '=', id).returning(COLUMNS).executeTakeFirst();
  return row ? toClosure(row) : null;
}

/** Taken shared by every booking (repositories/intake.ts), exclusively by a closure change. */
export const CALENDAR_LOCK = 0x434c4f53; // 'CLOS'

/**
 * Taken (shared) by an outcome that schedules a retry, before it reads the closures: a closure
 * being added either is seen by it, or waits for it and then sees (and moves) its retry.
 */
export async function lockCalendarShared(db: Db): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock_shared(${CALENDAR_LOCK})`.execute(db);
}

/** Taken (exclusive) by a closure change: waits for bookings in flight, holds new ones back. */
export async function lockCalendarExclusive(db: Db): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${CALENDAR_LOCK})`.execute(db);
}
