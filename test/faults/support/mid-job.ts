import pg from 'pg';
import { expect } from 'vitest';
import { createAgent } from './http.js';
import { submit, type Ledger } from './intake.js';
import type { QueueHandle } from '../../../src/queue/connection.js';
import { waitFor, type Started } from './rappel.js';

export const NINE = '2026-11-23T09:00:00+01:00';
/** Business time of the processes started once the 09:00 window has begun. */
export const JUST_AFTER_NINE = '2026-11-23T09:00:05+01:00';

/**
 * Books one callback for the 09:00 window through the API (more than a few seconds before it
 * starts: the window's shared due job); returns its id and that job's id.
 */
export async function bookForNine(api: Started, ledger: Ledger): Promise<{ id: string; jobId: string }> {
  await createAgent(api.baseUrl, ['travail']);
  const req = ledger.slot('travail', NINE);
  const a = await submit(api.baseUrl, req);
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  return { id: a.id!, jobId: `window-due-travail-${new Date(NINE).getTime()}` };
}

/**
 * Locks the test holds on the test's database, from its own connections, to stop a job's
 * transaction half-way for real: a row lock on the callback (start-up sweeps use SKIP LOCKED,
 * so they pass it by), and a table lock on callback_events, on which the job's INSERT of its
 * 'queued' event waits, after its UPDATE of the callback and before its commit.
 */
export class TestLocks {
  private constructor(
    private readonly row: pg.Client,
    private readonly events: pg.Client,
  ) {}

  static async open(databaseUrl: string): Promise<TestLocks> {
    const row = new pg.Client({ connectionString: databaseUrl });
    const events = new pg.Client({ connectionString: databaseUrl });
    await Promise.all([row.connect(), events.connect()]);
    return new TestLocks(row, events);
  }

  async holdRow(callbackId: string): Promise<void> {
    await this.row.query('BEGIN');
    await this.row.query('SELECT 1 FROM callbacks WHERE id = $1 FOR UPDATE', [callbackId]);
  }

  async releaseRow(): Promise<void> {
    await this.row.query('COMMIT');
  }

  async holdEvents(): Promise<void> {
    await this.events.query('BEGIN');
    await this.events.query('LOCK TABLE callback_events IN EXCLUSIVE MODE');
  }

  async releaseEvents(): Promise<void> {
    await this.events.query('COMMIT');
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.row.end(), this.events.end()]);
  }
}

/** Resolves once a session of the database waits on the callback_events lock (a job half-way). */
export async function waitBlockedOnEvents(sql: pg.Pool): Promise<number> {
  return waitFor(
    'a job transaction waiting on callback_events',
    async () => {
      const r = await sql.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query ILIKE '%insert into%callback_events%'`,
      );
      return r.rows[0]?.pid;
    },
    20_000,
  );
}

/**
 * Waits until nothing is waiting or running in the queue: a worker that just started has run
 * the first iteration of its reconcile schedule, which would otherwise race the test for the
 * callback once the test lets go of its row.
 */
export async function waitQueueQuiet(queue: QueueHandle): Promise<void> {
  await waitFor(
    'the queue quiet',
    async () => {
      const c = await queue.counts();
      return (c.active ?? 0) + (c.waiting ?? 0) + (c.prioritized ?? 0) === 0 ? true : undefined;
    },
    20_000,
  );
}

/** The session stuck on callback_events is the due job's: it is the one active job. */
export async function expectOnlyDueJobActive(queue: QueueHandle, jobId: string): Promise<void> {
  expect(await (await queue.getJob(jobId))!.getState()).toBe('active');
  expect((await queue.counts()).active).toBe(1);
}
