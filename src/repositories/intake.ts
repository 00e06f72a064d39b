import { sql } from 'kysely';
import { hotStatement, PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';
import { toClosure, type ClosureRecord } from './closures.js';
import type { StoredResponse } from './idempotency.js';
import type { OutboxRow } from './outbox.js';

/**
 * Intake's two statements (prepared once per connection: their text never varies). A booking
 * is a read without locks, the decision in the application, then one call of rappel_book
 * (migrations/0004_book_callback_function.sql), which is its own transaction: it takes the
 * locks, checks with fresh reads that what the decision used has not changed, and writes.
 * Every round trip inside a transaction is time its locks are held and its connection busy.
 */

export interface IntakeContext {
  /** Closures of the Paris date concerned. */
  closures: ClosureRecord[];
  /** Their fingerprint, which rappel_book checks again after its locks. */
  closuresMd5: string;
  /** Active informateurs of the domain (the staffing the window capacity comes from). */
  activeInDomain: number;
}

/** What the booking decision reads, in one statement, without locks (rappel_book re-checks). */
export async function readIntakeContext(db: Db, p: { date: string; domain: string }): Promise<IntakeContext> {
  const res = await sql<{
    closures: {
      id: string;
      date: string;
      start_time: string | null;
      end_time: string | null;
      reason: string;
      created_at: string;
    }[];
    closures_md5: string;
    active: number;
  }>`${PREPARED}
    SELECT c.closures, rappel_closures_md5(${p.date}::date) AS closures_md5, rappel_active_in_domain(${p.domain}) AS active
    FROM (SELECT rappel_closures_of(${p.date}::date) AS closures) c`.execute(db);
  const row = res.rows[0]!;
  return {
    closures: row.closures.map(toClosure),
    closuresMd5: row.closures_md5,
    activeInDomain: row.active,
  };
}

function storedOf(s: StoredJson | null): StoredResponse | null {
  return s ? { requestHash: Buffer.from(s.hash, 'hex'), status: s.status, body: s.body } : null;
}

type StoredJson = { hash: string; status: number; body: unknown };

/** What the decision was made with: rappel_book refuses to write ('stale') if it changed. */
export interface DecidedOn {
  date: string;
  closuresMd5: string;
  activeInDomain: number;
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
  /** The 'created' event (its status is the callback's). */
  event: { type: string; actor: string; data: Record<string, unknown> };
  outbox: Omit<OutboxRow, 'id'>;
  /** The Idempotency-Key and the response to replay, stored with the callback. */
  idempotency: { key: string; requestHash: Buffer; status: number; body: unknown; expiresAt: Date } | null;
  now: Date;
}

export type BookingResult =
  | { outcome: 'created'; outbox: OutboxRow }
  | { outcome: 'stored'; stored: StoredResponse }
  | { outcome: 'key_in_use' | 'stale' | 'duplicate' | 'full' };

/** rappel_book's arguments as they are sent (flat: a hot statement's values are interpolated one by one). */
type BookValues = NewBooking['callback'] & {
  keyLock: string | null;
  calendarLock: number | null;
  now: Date;
  date: string;
  closuresMd5: string;
  activeInDomain: number;
  capacity: number | null;
  eventType: string;
  eventActor: string;
  eventData: string;
  jobName: string;
  jobId: string;
  jobPayload: string;
  runAt: Date;
  key: string | null;
  requestHash: Buffer | null;
  storedStatus: number | null;
  body: string | null;
  expiresAt: Date | null;
};

/** Compiled once (`hotStatement`): its text never varies, only its 31 values. */
const bookStatement = hotStatement<
  null,
  BookValues,
  { outcome: string; outbox_id: string | null; stored: StoredJson | null }
>(
  () => 'book',
  (_, v) => sql`
    SELECT outcome, outbox_id, stored FROM rappel_book(
      ${v.keyLock}, ${v.calendarLock}, ${v.now}, ${v.date}, ${v.closuresMd5},
      ${v.activeInDomain}, ${v.capacity},
      ${v.id}, ${v.reference}, ${v.domain}, ${v.mode}, ${v.status},
      ${v.phone}, ${v.phoneRegion}, ${v.ficheId}, ${v.subject},
      ${v.windowStart}, ${v.windowEnd}, ${v.cancelTokenHash},
      ${v.eventType}, ${v.eventActor}, ${v.eventData},
      ${v.jobName}, ${v.jobId}, ${v.jobPayload}, ${v.runAt},
      ${v.key}, ${v.requestHash}, ${v.storedStatus},
      ${v.body}, ${v.expiresAt})`,
);

/**
 * Books in one call of rappel_book (its own transaction): the Idempotency-Key's advisory lock
 * (try), the calendar lock shared for a slot, then, with reads that see everything committed
 * before the locks were granted: the stored key ('stored'), the closures and staffing the
 * decision used ('stale' if they changed), an active callback of the phone in the domain
 * ('duplicate', the contract's order), the window's place ('full': guarded, never overbooks),
 * and the writes: callback, 'created' event, outbox row, key. All of it or none of it.
 *
 * A duplicate committed concurrently fails on the unique index (23505,
 * callbacks_active_phone_domain); a reference already taken on callbacks_reference_key, and
 * the caller draws another.
 */
export async function bookCallback(
  db: Db,
  b: NewBooking & { keyLock: bigint | null; calendarLock: number | null; decidedOn: DecidedOn },
): Promise<BookingResult> {
  const c = b.callback;
  const idem = b.idempotency;
  const res = await bookStatement(db, null, {
    keyLock: b.keyLock?.toString() ?? null,
    calendarLock: b.calendarLock,
    now: b.now,
    date: b.decidedOn.date,
    closuresMd5: b.decidedOn.closuresMd5,
    activeInDomain: b.decidedOn.activeInDomain,
    capacity: b.capacity,
    ...c,
    eventType: b.event.type,
    eventActor: b.event.actor,
    eventData: JSON.stringify(b.event.data),
    jobName: b.outbox.jobName,
    jobId: b.outbox.jobId,
    jobPayload: JSON.stringify(b.outbox.payload),
    runAt: b.outbox.runAt,
    key: idem?.key ?? null,
    requestHash: idem?.requestHash ?? null,
    storedStatus: idem?.status ?? null,
    body: idem ? JSON.stringify(idem.body) : null,
    expiresAt: idem?.expiresAt ?? null,
  });
  const row = res.rows[0]!;
  switch (row.outcome) {
    case 'created':
      return { outcome: 'created', outbox: { id: Number(row.outbox_id), ...b.outbox } };
    case 'stored':
      return { outcome: 'stored', stored: storedOf(row.stored)! };
    case 'key_in_use':
    case 'stale':
    case 'duplicate':
    case 'full':
      return { outcome: row.outcome };
    default:
      throw new Error(`rappel_book: unexpected outcome ${row.outcome}`);
  }
}

/**
 * Takes the Idempotency-Key's advisory lock (the one rappel_book tries), waiting at most
 * `timeoutMs` for the request holding it to commit or roll back, and runs `held` while it is
 * held: no booking under the key can start meanwhile. Rejects on the timeout (lock_timeout,
 * 55P03) without running `held`.
 */
export async function whileKeyLockHeld(
  db: Db,
  keyLock: bigint,
  timeoutMs: number,
  held: () => Promise<void>,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('lock_timeout', ${`${Math.max(1, Math.round(timeoutMs))}ms`}, true)`.execute(
      tx,
    );
    await sql`SELECT pg_advisory_xact_lock(${keyLock.toString()}::bigint)`.execute(tx);
    await held();
  });
}
