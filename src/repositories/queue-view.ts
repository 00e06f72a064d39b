import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { CALLBACK_COLUMNS, toCallback, type CallbackRecord } from './callbacks.js';
import { onCall } from './push.js';

export interface DomainQueueRow {
  domain: string;
  scheduled: number;
  queued: number;
  assigned: number;
  oldestQueuedAt: Date | null;
  /** In status 'available' (the contract's word: pulling makes them so), on a call or not. */
  availableInformateurs: number;
  /** With a callback on their desk, whatever their status. */
  onCallInformateurs: number;
}

/**
 * Per-domain counts of active callbacks, from their partial indexes; informateurs counted by
 * status, and those on a call through the one-per-desk index. An informateur of several
 * domains counts in each.
 */
export async function queueSummary(db: Db): Promise<DomainQueueRow[]> {
  const res = await sql<{
    domain: string;
    scheduled: number;
    queued: number;
    assigned: number;
    oldest: Date | null;
    available: number;
    on_call: number;
  }>`
    SELECT d.domain,
      (SELECT count(*) FROM callbacks c WHERE c.status = 'scheduled' AND c.domain = d.domain)::int AS scheduled,
      (SELECT count(*) FROM callbacks c WHERE c.status = 'queued' AND c.domain = d.domain)::int AS queued,
      (SELECT count(*) FROM callbacks c WHERE c.status = 'assigned' AND c.domain = d.domain)::int AS assigned,
      (SELECT min(c.due_at) FROM callbacks c WHERE c.status = 'queued' AND c.domain = d.domain) AS oldest,
      (SELECT count(*) FROM agents a WHERE a.active AND a.status = 'available' AND a.domains @> ARRAY[d.domain])::int AS available,
      (SELECT count(*) FROM agents a WHERE a.active AND a.domains @> ARRAY[d.domain] AND ${onCall('a')})::int AS on_call
    FROM unnest(ARRAY['travail','interieur','justice','logement']) AS d(domain)`.execute(db);
  return res.rows.map((r) => ({
    domain: r.domain,
    scheduled: r.scheduled,
    queued: r.queued,
    assigned: r.assigned,
    oldestQueuedAt: r.oldest,
    availableInformateurs: r.available,
    onCallInformateurs: r.on_call,
  }));
}

export interface ListFilter {
  status?: string;
  domain?: string;
  from?: Date;
  to?: Date;
  cursor?: { createdAt: Date; id: string };
  limit: number;
}

/** Newest first, keyset-paged on (created_at, id). */
export async function listCallbacks(db: Db, f: ListFilter): Promise<CallbackRecord[]> {
  let q = db.selectFrom('callbacks').select(CALLBACK_COLUMNS);
  if (f.status) q = q.where('status', '=', f.status as CallbackRecord['status']);
  if (f.domain) q = q.where('domain', '=', f.domain);
  if (f.from) q = q.where('window_start', '>=', f.from);
  if (f.to) q = q.where('window_start', '<', f.to);
  if (f.cursor) {
    const { createdAt, id } = f.cursor;
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', createdAt),
        eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)]),
      ]),
    );
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map((r) => toCallback(r as Parameters<typeof toCallback>[0]));
}
