import { sql } from 'kysely';
import { PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';
import type { ClosureRecord } from './closures.js';
import { CALENDAR_LOCK } from './closures.js';
import type { StoredResponse } from './idempotency.js';
import type { OutboxRow } from './outbox.js';

/**
 * Intake's statements (prepared once per connection: their text never varies), merged so that a booking is four round trips (BEGIN, locks, reads, one
 * write statement, COMMIT) instead of a dozen: inside a transaction every round trip is time
 * the rows stay locked and the connection stays busy.
 */

/**
 * Takes the request's locks in one statement: the Idempotency-Key's advisory lock (try: false
 * while another request with the key runs) and, for a slot booking, the calendar lock shared
 * (a closure change takes it exclusively). The reads that depend on them must come in a later
 * statement: a statement's snapshot is taken before it waits on a lock.
 */
export async function takeIntakeLocks(
  db: Db,
  keyLock: bigint | null,
  calendar: boolean,
): Promise<{ keyLocked: boolean }> {
  const res = await sql<{ key_locked: boolean | null }>`${PREPARED}
    SELECT CASE WHEN ${keyLock?.toString() ?? null}::bigint IS NULL THEN NULL
                ELSE pg_try_advisory_xact_lock(${keyLock?.toString() ?? null}::bigint) END AS key_locked,
           CASE WHEN ${calendar} THEN pg_advisory_xact_lock_shared(${CALENDAR_LOCK}) END AS calendar`.execute(
    db,
  );
  return { keyLocked: res.rows[0]?.key_locked !== false };
}

export interface IntakeContext {
  /** The live response stored under the Idempotency-Key, if any. */
  stored: StoredResponse | null;
  /** Closures of the Paris date concerned. */
  closures: ClosureRecord[];
  /** Active informateurs of the domain (the staffing the window capacity comes from). */
  activeInDomain: number;
}

/** What the booking decision reads, in one statement (after the locks). */
export async function readIntakeContext(
  db: Db,
  p: { key: string | null; now: Date; date: string; domain: string },
): Promise<IntakeContext> {
  const res = await sql<{
    stored: { hash: string; status: number; body: unknown } | null;
    closures: {
      id: string;
      date: string;
      start_time: string | null;
      end_time: string | null;
      reason: string;
      created_at: string;
    }[];
    active: number;
  }>`${PREPARED}
    SELECT
      (SELECT json_build_object('hash', encode(request_hash, 'hex'), 'status', response_status, 'body', response_body)
         FROM idempotency_keys WHERE key = ${p.key} AND expires_at > ${p.now}) AS stored,
      (SELECT coalesce(json_agg(c ORDER BY c.start_time NULLS FIRST), '[]'::json)
         FROM (SELECT id, date, start_time, end_time, reason, created_at FROM closures WHERE date = ${p.date}::date) c) AS closures,
      (SELECT count(*)::int FROM agents WHERE active AND domains @> ARRAY[${p.domain}]::text[]) AS active`.execute(
    db,
  );
  const row = res.rows[0]!;
  return {
    stored: row.stored
      ? { requestHash: Buffer.from(row.stored.hash, 'hex'), status: row.stored.status, body: row.stored.body }
      : null,
    closures: row.closures.map((c) => ({
      id: c.id,
      date: c.date,
      start: c.start_time,
      end: c.end_time,
      reason: c.reason,
      createdAt: new Date(c.created_at),
    })),
    activeInDomain: row.active,
  };
}

export interface NewBooking {
  callback: {
    id: string;
    reference: string;
    domain: string;
    mode: 'slot' | 'asap';
    status: 'scheduled' | 'queued';
    phone: string;
    phoneRegion: string;
    ficheId: string | null;
    subject: string | null;
    windowStart: Date;
    windowEnd: Date;
    cancelTokenHash: Buffer;
  };
  /** Places of the window (slot mode): a place is taken only while fewer are booked. Null: no place (asap). */
  capacity: number | null;
  event: { type: string; toStatus: string; actor: string; data: Record<string, unknown> };
  outbox: Omit<OutboxRow, 'id'>;
  /** The Idempotency-Key and the response to replay, stored with the callback. */
  idempotency: { key: string; requestHash: Buffer; status: number; body: unknown; expiresAt: Date } | null;
  now: Date;
}

export type BookingResult = { ok: true; outbox: OutboxRow } | { ok: false; refusal: 'duplicate' | 'full' };

/**
 * Writes a callback with everything that goes with it, in one statement: its window place
 * (slot mode), the callback, its 'created' event, its outbox row, and the Idempotency-Key's
 * stored response. Either all of it is written or none of it.
 *
 * - Duplicates first (the contract's order): an active callback of the phone in the domain,
 *   as of this statement, writes nothing and answers 'duplicate'; one committed concurrently
 *   makes the insert fail on the unique index (23505, callbacks_active_phone_domain), which
 *   the caller turns into the same answer.
 * - The place is a guarded upsert (`booked < capacity`, re-checked on the latest row version),
 *   so concurrent bookings never overbook. A window already full in this statement's snapshot
 *   is refused without even waiting on its row lock: a burst on one full window does not
 *   queue up behind it.
 * - A reference already taken fails on its unique index (23505, callbacks_reference_key): the
 *   caller draws another and runs the transaction again.
 */
export async function insertBooking(db: Db, b: NewBooking): Promise<BookingResult> {
  const c = b.callback;
  const slot = b.capacity !== null;
  const capacity = b.capacity ?? 0;
  const idem = b.idempotency;
  const res = await sql<{ duplicate: boolean; created: number; outbox_id: number | null }>`${PREPARED}
    WITH dup AS (
      SELECT EXISTS (SELECT 1 FROM callbacks WHERE phone = ${c.phone} AND domain = ${c.domain}
                     AND status IN ('scheduled','queued','assigned')) AS v
    ), cur AS (
      SELECT booked FROM window_load WHERE domain = ${c.domain} AND window_start = ${c.windowStart}
    ), place AS (
      INSERT INTO window_load AS w (domain, window_start, booked)
      SELECT ${c.domain}, ${c.windowStart}, 1
      WHERE ${slot} AND NOT (SELECT v FROM dup) AND coalesce((SELECT booked FROM cur), 0) < ${capacity}
      ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + 1 WHERE w.booked < ${capacity}
      RETURNING booked
    ), ins AS (
      INSERT INTO callbacks (id, reference, domain, mode, status, phone, phone_region, fiche_id, subject,
        window_start, window_end, due_at, queued_at, cancel_token_hash, created_at, updated_at)
      SELECT ${c.id}, ${c.reference}, ${c.domain}, ${c.mode}, ${c.status}, ${c.phone}, ${c.phoneRegion},
        ${c.ficheId}, ${c.subject}, ${c.windowStart}, ${c.windowEnd}, ${c.windowStart},
        ${c.status === 'queued' ? b.now : null}::timestamptz, ${c.cancelTokenHash}, ${b.now}, ${b.now}
      WHERE NOT (SELECT v FROM dup) AND (NOT ${slot} OR EXISTS (SELECT 1 FROM place))
      RETURNING id
    ), ev AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT id, ${b.event.type}, NULL, ${b.event.toStatus}, ${b.event.actor}, ${b.now}, ${JSON.stringify(b.event.data)}::jsonb
      FROM ins
    ), ob AS (
      INSERT INTO outbox (job_name, job_id, payload, run_at, created_at)
      SELECT ${b.outbox.jobName}, ${b.outbox.jobId}, ${JSON.stringify(b.outbox.payload)}::jsonb, ${b.outbox.runAt}, ${b.now}
      FROM ins
      RETURNING id
    ), ik AS (
      INSERT INTO idempotency_keys (key, request_hash, response_status, response_body, created_at, expires_at)
      SELECT ${idem?.key ?? null}, ${idem?.requestHash ?? null}::bytea, ${idem?.status ?? null}::int,
        ${idem ? JSON.stringify(idem.body) : null}::jsonb, ${b.now}, ${idem?.expiresAt ?? null}::timestamptz
      FROM ins WHERE ${idem !== null}
      ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = EXCLUDED.response_status,
        response_body = EXCLUDED.response_body, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    )
    SELECT (SELECT v FROM dup) AS duplicate, (SELECT count(*) FROM ins)::int AS created,
           (SELECT id FROM ob) AS outbox_id`.execute(db);
  const row = res.rows[0]!;
  if (row.duplicate) return { ok: false, refusal: 'duplicate' };
  if (row.created !== 1 || row.outbox_id === null) return { ok: false, refusal: 'full' };
  return { ok: true, outbox: { id: row.outbox_id, ...b.outbox } };
}
