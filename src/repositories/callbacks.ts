import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { ACTIVE_STATUSES, type CallbackStatus } from '../domain/callback-status.js';
import { DOMAIN_CODES } from '../domain/domains.js';

export interface CallbackRecord {
  id: string;
  reference: string;
  domain: string;
  mode: 'slot' | 'asap';
  status: CallbackStatus;
  phone: string | null;
  ficheId: string | null;
  subject: string | null;
  windowStart: Date;
  windowEnd: Date;
  dueAt: Date;
  attempts: number;
  carriedOver: boolean;
  assignedAgentId: string | null;
  cancelTokenHash: Buffer;
  createdAt: Date;
  updatedAt: Date;
  outcome: string | null;
  redirectedTo: string | null;
}

export const CALLBACK_COLUMNS = [
  'id',
  'reference',
  'domain',
  'mode',
  'status',
  'phone',
  'fiche_id',
  'subject',
  'window_start',
  'window_end',
  'due_at',
  'attempts',
  'carried_over',
  'assigned_agent_id',
  'cancel_token_hash',
  'created_at',
  'updated_at',
  'outcome',
  'redirected_to',
] as const;

/** The callback columns of the row `c` a statement updates, for its RETURNING (read by toCallback). */
export const CALLBACK_COLUMNS_OF_C = sql.join(CALLBACK_COLUMNS.map((c) => sql.ref(`c.${c}`)));

type Row = {
  id: string;
  reference: string;
  domain: string;
  mode: 'slot' | 'asap';
  status: CallbackStatus;
  phone: string | null;
  fiche_id: string | null;
  subject: string | null;
  window_start: Date;
  window_end: Date;
  due_at: Date;
  attempts: number;
  carried_over: boolean;
  assigned_agent_id: string | null;
  cancel_token_hash: Buffer;
  created_at: Date;
  updated_at: Date;
  outcome: string | null;
  redirected_to: string | null;
};

export function toCallback(r: Row): CallbackRecord {
  return {
    id: r.id,
    reference: r.reference,
    domain: r.domain,
    mode: r.mode,
    status: r.status,
    phone: r.phone,
    ficheId: r.fiche_id,
    subject: r.subject,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    dueAt: r.due_at,
    attempts: r.attempts,
    carriedOver: r.carried_over,
    assignedAgentId: r.assigned_agent_id,
    cancelTokenHash: r.cancel_token_hash,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    outcome: r.outcome,
    redirectedTo: r.redirected_to,
  };
}

export async function findByReference(
  db: Db,
  reference: string,
  opts: { forUpdate?: boolean } = {},
): Promise<CallbackRecord | null> {
  let q = db.selectFrom('callbacks').select(CALLBACK_COLUMNS).where('reference', '=', reference);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row ? toCallback(row as Row) : null;
}

/** Compare-and-set on the status: returns false if the callback was no longer `from`. */
export async function setStatus(
  db: Db,
  id: string,
  from: CallbackStatus,
  to: CallbackStatus,
  now: Date,
  extra: { endedAt?: Date } = {},
): Promise<boolean> {
  const res = await db
    .updateTable('callbacks')
    .set({ status: to, updated_at: now, ...(extra.endedAt ? { ended_at: extra.endedAt } : {}) })
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Callbacks waiting or on a desk in some domains: the load the asap estimate spreads. Counted up
 * to `cap` only (each part reads at most `cap` index entries): past the cap the answer no
 * longer changes the decision, and a long queue must not make every asap request slow.
 */
export async function countWaiting(db: Db, domains: readonly string[], cap: number): Promise<number> {
  const res = await sql<{ n: number }>`
    SELECT (SELECT count(*) FROM (SELECT 1 FROM callbacks WHERE status = 'queued' AND domain = ANY(${domains}::text[]) LIMIT ${cap}) q)::int
         + (SELECT count(*) FROM (SELECT 1 FROM callbacks WHERE status = 'assigned' AND domain = ANY(${domains}::text[]) LIMIT ${cap}) a)::int AS n`.execute(
    db,
  );
  return Math.min(cap, res.rows[0]?.n ?? 0);
}

/** Whether the phone has an active callback in the domain (what DUPLICATE_REQUEST refuses). */
export async function hasActiveCallback(db: Db, phone: string, domain: string): Promise<boolean> {
  const row = await db
    .selectFrom('callbacks')
    .select('id')
    .where('phone', '=', phone)
    .where('domain', '=', domain)
    .where('status', 'in', ACTIVE_STATUSES)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Scheduled callbacks of the given domains whose window starts in [from, to), window order. */
export async function scheduledInPeriod(db: Db, from: Date, to: Date) {
  const rows = await db
    .selectFrom('callbacks')
    .select(CALLBACK_COLUMNS)
    .where('status', '=', 'scheduled')
    .where('mode', '=', 'slot')
    .where('window_start', '<', to)
    .where('window_end', '>', from)
    .where('attempts', '=', 0)
    .orderBy('window_start')
    .orderBy('created_at')
    .orderBy('id') // booking order within one millisecond (src/db/ids.ts)
    .forUpdate()
    .execute();
  return rows.map((r) => toCallback(r as Row));
}

/**
 * Retries (callbacks already tried, waiting for their next attempt) due inside [from, to),
 * locked: a closure added over them moves their next attempt.
 */
export async function retriesDueInPeriod(db: Db, from: Date, to: Date) {
  const rows = await db
    .selectFrom('callbacks')
    .select(CALLBACK_COLUMNS)
    .where('status', '=', 'scheduled')
    // Every domain named, so that callbacks_scheduled_due (domain, due_at) serves the range.
    .where('domain', 'in', DOMAIN_CODES)
    .where('attempts', '>', 0)
    .where('due_at', '>=', from)
    .where('due_at', '<', to)
    .orderBy('due_at')
    .orderBy('created_at')
    .forUpdate()
    .execute();
  return rows.map((r) => toCallback(r as Row));
}

/** References of asap callbacks waiting in the queue whose promised window meets [from, to). */
export async function queuedAsapInPeriod(db: Db, from: Date, to: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('callbacks')
    .select('reference')
    .where('status', '=', 'queued')
    .where('domain', 'in', DOMAIN_CODES)
    .where('mode', '=', 'asap')
    .where('window_start', '<', to)
    .where('window_end', '>', from)
    .orderBy('window_start')
    .orderBy('reference')
    .execute();
  return rows.map((r) => r.reference);
}

/** The next attempt of a retry still waiting for it, later. */
export async function moveRetry(db: Db, id: string, dueAt: Date, now: Date): Promise<boolean> {
  const res = await db
    .updateTable('callbacks')
    .set({ due_at: dueAt, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'scheduled')
    .where('attempts', '>', 0)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Moves scheduled callbacks to new windows (due at their start), in one statement: the ids moved. */
export async function moveWindows(
  db: Db,
  moves: readonly { id: string; start: Date; end: Date }[],
  now: Date,
): Promise<string[]> {
  if (moves.length === 0) return [];
  const res = await sql<{ id: string }>`
    UPDATE callbacks c SET window_start = m.s, window_end = m.e, due_at = m.s, updated_at = ${now}
    FROM unnest(
      ${moves.map((m) => m.id)}::uuid[],
      ${moves.map((m) => m.start.toISOString())}::timestamptz[],
      ${moves.map((m) => m.end.toISOString())}::timestamptz[]
    ) AS m(id, s, e)
    WHERE c.id = m.id AND c.status = 'scheduled'
    RETURNING c.id`.execute(db);
  return res.rows.map((r) => r.id);
}
