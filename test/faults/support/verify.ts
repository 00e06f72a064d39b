import type pg from 'pg';
import pino from 'pino';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import {
  createPostgresQueueBackend,
  createRedisBackend,
  type QueueHandle,
} from '../../../src/queue/connection.js';
import { MAIN_QUEUE } from '../../../src/queue/jobs.js';
import type { Ledger } from './intake.js';
import type { Stack } from './rappel.js';

export interface LedgerReport {
  acknowledged: number;
  /** A 201 whose callback is not in the database (or is another one). */
  lost: string[];
  /** A request that produced more than one callback. */
  duplicated: string[];
  /** A request refused (503 or 4xx) every time, yet something was written. */
  writtenWithoutAck: string[];
  /** Two 201 answers to one key that name different callbacks. */
  inconsistentReplays: string[];
}

/**
 * Checks, from the database, what the clients were told: every 201 is there exactly once;
 * a request that only got refusals wrote nothing; one that got no answer wrote at most one.
 */
export async function checkLedger(db: pg.Pool, ledger: Ledger): Promise<LedgerReport> {
  const phones = ledger.requests.map((r) => r.e164);
  const { rows } = await db.query<{ id: string; phone: string }>(
    'SELECT id, phone FROM callbacks WHERE phone = ANY($1::text[])',
    [phones],
  );
  const byPhone = new Map<string, string[]>();
  for (const r of rows) byPhone.set(r.phone, [...(byPhone.get(r.phone) ?? []), r.id]);
  const report: LedgerReport = {
    acknowledged: 0,
    lost: [],
    duplicated: [],
    writtenWithoutAck: [],
    inconsistentReplays: [],
  };
  for (const req of ledger.requests) {
    const found = byPhone.get(req.e164) ?? [];
    const ids = new Set(req.answers.filter((a) => a.status === 201).map((a) => a.id));
    if (found.length > 1) report.duplicated.push(req.key);
    if (ids.size > 1) report.inconsistentReplays.push(req.key);
    if (ids.size > 0) {
      report.acknowledged++;
      if (!found.some((id) => ids.has(id))) report.lost.push(req.key);
    } else if (req.answers.every((a) => a.status !== null) && found.length > 0) {
      report.writtenWithoutAck.push(`${req.key} (${req.answers.map((a) => a.status).join(',')})`);
    }
  }
  return report;
}

export function expectNothingLostOrDuplicated(report: LedgerReport, minAcknowledged = 1): void {
  expect(report.lost, 'acknowledged callbacks missing from the database').toEqual([]);
  expect(report.duplicated, 'requests that created more than one callback').toEqual([]);
  expect(report.writtenWithoutAck, 'refused requests that wrote something').toEqual([]);
  expect(report.inconsistentReplays, 'replays naming another callback').toEqual([]);
  expect(report.acknowledged).toBeGreaterThanOrEqual(minAcknowledged);
}

export async function unsentOutbox(db: pg.Pool): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL');
  return r.rows[0]!.n;
}

/** Events of each callback by type, e.g. { created: 1, queued: 1 }. */
export async function eventCounts(db: pg.Pool, ids: string[]): Promise<Map<string, Record<string, number>>> {
  const { rows } = await db.query<{ callback_id: string; type: string; n: number }>(
    `SELECT callback_id, type, count(*)::int AS n FROM callback_events
     WHERE callback_id = ANY($1::uuid[]) GROUP BY callback_id, type`,
    [ids],
  );
  const out = new Map<string, Record<string, number>>(ids.map((id) => [id, {}]));
  for (const r of rows) out.get(r.callback_id)![r.type] = r.n;
  return out;
}

export async function statuses(db: pg.Pool, ids: string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; status: string }>(
    'SELECT id, status FROM callbacks WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** The stack's BullMQ queue, opened from the test to look at jobs. */
export async function openQueue(stack: Stack): Promise<{ queue: QueueHandle; close(): Promise<void> }> {
  const log = pino({ level: 'silent' });
  const backend = stack.redisUrl
    ? createRedisBackend(stack.redisUrl, stack.prefix, log)
    : createPostgresQueueBackend(stack.databaseUrl, log);
  const queue = backend.createQueue(stack.redisUrl ? MAIN_QUEUE : `${stack.prefix}-${MAIN_QUEUE}`);
  await queue.ping(5_000);
  return { queue, close: () => backend.close() };
}

/**
 * The due job of a slot booking: its window's (one job id per domain and window start, shared
 * by the window's bookings), or, for a booking relayed as its window was about to start, the
 * job of its own it got (`<window job id>-row<outbox row id>`).
 */
export async function windowDueJobOf(
  queue: QueueHandle,
  db: pg.Pool,
  domain: string,
  windowStart: string,
): Promise<Awaited<ReturnType<QueueHandle['getJob']>>> {
  const shared = `window-due-${domain}-${new Date(windowStart).getTime()}`;
  const job = await queue.getJob(shared);
  if (job) return job;
  const { rows } = await db.query<{ id: string }>('SELECT id FROM outbox WHERE job_id = $1', [shared]);
  for (const r of rows) {
    const own = await queue.getJob(`${shared}-row${r.id}`);
    if (own) return own;
  }
  return undefined;
}

/** Removes what a stack left in a shared Redis (its queue namespace); no-op on PostgreSQL. */
export async function clearQueue(stack: Stack | undefined): Promise<void> {
  if (!stack?.redisUrl) return;
  const r = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${stack.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
