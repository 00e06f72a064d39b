import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely } from '../../src/db/kysely.js';
import { CALENDAR_LOCK } from '../../src/repositories/closures.js';
import { bookCallback, type BookingResult } from '../../src/repositories/intake.js';
import { createTestDatabase } from '../support/runtime.js';

/**
 * rappel_book under a race it must order as the contract does: two bookings of the same phone
 * for the last place of a window. The second has checked duplicates (none yet) and waits on the
 * window's row lock; when the first commits, its guarded upsert finds the window full. Its
 * answer must be the duplicate (the contract's order), not the full window.
 */
const DATE = '2026-11-23';
const WINDOW = new Date('2026-11-23T09:00:00+01:00');
const PHONE = '+33640000001';

describe('rappel_book: the same phone racing for the last place', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let poolA: pg.Pool;
  let poolB: pg.Pool;
  let observer: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    poolA = new pg.Pool({ connectionString: db.url, max: 1 });
    poolB = new pg.Pool({ connectionString: db.url, max: 1 });
    observer = new pg.Pool({ connectionString: db.url, max: 1 });
    await observer.query(
      `INSERT INTO agents (id, display_name, domains, status, token_hash, created_at, updated_at)
       VALUES (gen_random_uuid(), 'A', '{travail}', 'offline', '\\xaa', now(), now())`,
    );
  });
  afterAll(async () => {
    // The Kysely instances end their pools.
    await observer?.end();
    await db?.drop();
  });

  async function booking() {
    const r = await observer.query<{ md5: string; active: number }>(
      `SELECT rappel_closures_md5($1::date) AS md5, rappel_active_in_domain('travail') AS active`,
      [DATE],
    );
    const id = randomUUID();
    const now = new Date('2026-11-20T10:00:00+01:00');
    return {
      keyLock: null,
      calendarLock: CALENDAR_LOCK,
      decidedOn: { date: DATE, closuresMd5: r.rows[0]!.md5, activeInDomain: r.rows[0]!.active },
      callback: {
        id,
        reference: `RAP-${id.slice(0, 6).toUpperCase()}`,
        domain: 'travail',
        mode: 'slot' as const,
        status: 'scheduled' as const,
        phone: PHONE,
        phoneRegion: 'FR',
        ficheId: null,
        subject: null,
        windowStart: WINDOW,
        windowEnd: new Date(WINDOW.getTime() + 30 * 60_000),
        cancelTokenHash: Buffer.from(id),
      },
      capacity: 1,
      event: { type: 'created', actor: 'citizen', data: { mode: 'slot' } },
      outbox: { jobName: 'callback-due', jobId: `due-${id}`, payload: { callbackId: id }, runAt: WINDOW },
      idempotency: null,
      now,
    };
  }

  it('answers duplicate to the one that waited, and books once', async () => {
    const a = createKysely(poolA);
    const b = createKysely(poolB);
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let first!: BookingResult;
      // A books inside a transaction it keeps open: its window row stays locked.
      const committed = a.transaction().execute(async (tx) => {
        first = await bookCallback(tx, await booking());
        await held;
      });
      await waitUntil(async () => first !== undefined);
      const second = bookCallback(b, await booking());
      // B has passed its duplicate check and waits on the window's row lock (A's).
      await waitUntil(async () => {
        const { rows } = await observer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%rappel_book%'`,
        );
        return rows[0]!.n === 1;
      });
      release();
      await committed;
      expect(first.outcome).toBe('created');
      expect((await second).outcome).toBe('duplicate');
      const { rows } = await observer.query<{ n: number; booked: number }>(
        `SELECT (SELECT count(*)::int FROM callbacks) AS n, (SELECT booked FROM window_load) AS booked`,
      );
      expect(rows[0]).toEqual({ n: 1, booked: 1 });
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });
});

async function waitUntil(ok: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
