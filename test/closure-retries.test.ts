import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import pg from 'pg';
import { CALENDAR_LOCK } from '../src/repositories/closures.js';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { createAgent, postClosure, bookSlot, opsView } from './support/api.js';
import { outcome, pull } from './support/desk.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

/**
 * A no-answer's retry is placed inside opening hours as they stand when it is decided. A closure
 * added afterwards over that time moves it after the closure; one being added while the outcome
 * is decided is either seen by it or moves what it wrote.
 */
describe('closures and pending retries', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let A: { id: string; token: string };
  let B: { id: string; token: string };

  const book = (slotStart: string) => bookSlot(t.app, 'travail', slotStart);
  const view = (reference: string) => opsView(t.app, reference);
  /** Adds a closure through the ops API (201 expected): its response body. */
  const closure = async (payload: Record<string, unknown>) => {
    const res = await postClosure(t.app, payload);
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  /** Called once at its window's start, unanswered: returns the next attempt the outcome gave. */
  const unanswered = async (ref: string, now: string) => {
    t.clock.set(at(now));
    expect((await pull(t.app, A.token))?.reference).toBe(ref);
    const res = await outcome(t.app, A.token, ref, { outcome: 'no_answer' });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().nextAttemptAt as string;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', {
      now: '2026-11-23T08:00:00+01:00',
      env: NO_LIMITS, // RETRY_DELAY_MINUTES and MIN_NOTICE_MINUTES at their default, 15
    });
    A = await createAgent(t.app, ['travail'], 'Alice');
    B = await createAgent(t.app, ['travail'], 'Bruno');
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('moves a retry due inside a new closure to the reopening, and leaves the others', async () => {
    const early = await book('2026-11-23T09:00:00+01:00');
    const inside = await book('2026-11-23T09:00:00+01:00');
    expect(await unanswered(early, '2026-11-23T09:00:00+01:00')).toBe('2026-11-23T09:15:00+01:00');
    expect((await pull(t.app, B.token))?.reference).toBe(inside);
    t.clock.set(at('2026-11-23T09:05:00+01:00'));
    const late = await outcome(t.app, B.token, inside, { outcome: 'no_answer' });
    expect(late.json().nextAttemptAt).toBe('2026-11-23T09:20:00+01:00');

    t.clock.set(at('2026-11-23T09:06:00+01:00'));
    // Covers 09:20 (the second retry) but not 09:15; no booking lies in it, so no moveBookings.
    const closed = await closure({
      date: '2026-11-23',
      start: '09:16',
      end: '09:30',
      reason: 'Exercice incendie',
    });
    expect(closed).toMatchObject({
      moved: [],
      notMoved: [],
      retriesMoved: [
        { reference: inside, from: '2026-11-23T09:20:00+01:00', to: '2026-11-23T09:30:00+01:00' },
      ],
    });
    const history = (await view(inside)).history as {
      type: string;
      actor: string;
      data: Record<string, unknown>;
    }[];
    expect(history.at(-1)).toMatchObject({
      type: 'retry_moved',
      actor: 'ops',
      data: { from: '2026-11-23T09:20:00+01:00', to: '2026-11-23T09:30:00+01:00', closureId: closed.id },
    });
    expect((await view(early)).history.some((e: { type: string }) => e.type === 'retry_moved')).toBe(false);
    expect((await view(inside)).nextAttemptAt).toBe('2026-11-23T09:30:00+01:00');
    expect((await view(early)).nextAttemptAt).toBe('2026-11-23T09:15:00+01:00');

    // 09:21, inside the closure: the moved retry is not due; the early one (09:15) is.
    t.clock.set(at('2026-11-23T09:21:00+01:00'));
    await t.rt.services.reconciler.sweep();
    expect((await view(inside)).status).toBe('scheduled');
    expect((await pull(t.app, A.token))?.reference).toBe(early);
    expect((await outcome(t.app, A.token, early, { outcome: 'reached' })).statusCode).toBe(200);
    expect(await pull(t.app, A.token)).toBeNull();
    // 09:30, the reopening: the moved retry is called.
    t.clock.set(at('2026-11-23T09:30:00+01:00'));
    expect((await pull(t.app, A.token))?.reference).toBe(inside);
    expect((await outcome(t.app, A.token, inside, { outcome: 'reached' })).statusCode).toBe(200);
    expect((await view(inside)).nextAttemptAt).toBeNull();
  });

  it('moves a retry due at the closure start, not one due at its end (half-open)', async () => {
    const atStart = await book('2026-11-24T09:00:00+01:00'); // Tuesday
    const atEnd = await book('2026-11-24T09:00:00+01:00');
    expect(await unanswered(atStart, '2026-11-24T09:00:00+01:00')).toBe('2026-11-24T09:15:00+01:00');
    expect((await pull(t.app, B.token))?.reference).toBe(atEnd);
    t.clock.set(at('2026-11-24T09:15:00+01:00'));
    const late = await outcome(t.app, B.token, atEnd, { outcome: 'no_answer' });
    expect(late.json().nextAttemptAt).toBe('2026-11-24T09:30:00+01:00');

    // From now (09:15, the first retry's due time) to 09:30 (the second's).
    const closed = await closure({ date: '2026-11-24', start: '09:15', end: '09:30', reason: 'Réunion' });
    expect(closed.retriesMoved).toEqual([
      { reference: atStart, from: '2026-11-24T09:15:00+01:00', to: '2026-11-24T09:30:00+01:00' },
    ]);
    expect(closed.notMoved).toEqual([]);
    t.clock.set(at('2026-11-24T09:30:00+01:00'));
    for (const token of [A.token, B.token]) {
      const desk = await pull(t.app, token);
      expect([atStart, atEnd]).toContain(desk?.reference);
      expect((await outcome(t.app, token, desk!.reference, { outcome: 'reached' })).statusCode).toBe(200);
    }
  });

  it('an outcome decided while a closure is being added waits for it and retries after it', async () => {
    const ref = await book('2026-11-26T09:00:00+01:00'); // Thursday
    // Ops adding a closure: the calendar lock is held, the closure row not yet committed.
    const ops = new pg.Client({ connectionString: db.url });
    await ops.connect();
    try {
      await ops.query('BEGIN');
      await ops.query('SELECT pg_advisory_xact_lock($1)', [CALENDAR_LOCK]);
      await ops.query(
        `INSERT INTO closures (id, date, start_time, end_time, reason, created_at)
         VALUES (gen_random_uuid(), '2026-11-26', '09:10', '10:00', 'Réunion', now())`,
      );
      const decided = unanswered(ref, '2026-11-26T09:00:00+01:00');
      let settled = false;
      void decided.then(() => (settled = true));
      // The outcome waits for the calendar: its advisory lock request shows, not granted.
      for (let i = 0; i < 500; i++) {
        const waiting = await ops.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
        );
        if (waiting.rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(settled).toBe(false);
      await ops.query('COMMIT');
      // Seen once committed: the retry goes to 10:00, not 09:15 inside the closure.
      expect(await decided).toBe('2026-11-26T10:00:00+01:00');
      t.clock.set(at('2026-11-26T10:00:00+01:00'));
      expect((await pull(t.app, A.token))?.reference).toBe(ref);
      expect((await outcome(t.app, A.token, ref, { outcome: 'reached' })).statusCode).toBe(200);
    } finally {
      await ops.end();
    }
  });

  it('a whole-day closure moves a retry to the next day the centre opens', async () => {
    const ref = await book('2026-11-27T16:30:00+01:00'); // Friday, 13:00–17:00
    expect(await unanswered(ref, '2026-11-27T16:50:00+01:00')).toBe('2026-11-30T08:30:00+01:00'); // Monday
    const closed = await closure({ date: '2026-11-30', reason: 'Formation' });
    expect(closed.retriesMoved).toEqual([
      { reference: ref, from: '2026-11-30T08:30:00+01:00', to: '2026-12-01T08:30:00+01:00' },
    ]);
    t.clock.set(at('2026-11-30T10:00:00+01:00'));
    await t.rt.services.reconciler.sweep();
    expect((await view(ref)).status).toBe('scheduled');
    t.clock.set(at('2026-12-01T08:30:00+01:00'));
    expect((await pull(t.app, A.token))?.reference).toBe(ref);
  });
});
