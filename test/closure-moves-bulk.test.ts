import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { bookSlot, createAgent, opsView, postClosure } from './support/api.js';

/**
 * A whole busy day closed with moveBookings: the destinations are decided in memory, the places
 * taken window by window and the rest written in a few statements (one statement per booking
 * held the calendar lock for 13.6 s on a day of 1,520 bookings, and the centre's bookings and
 * no-answers waited on it). What must hold: every booking moved, in window order, to a later
 * start, the windows' counts equal to the bookings they hold, none over capacity.
 */
describe('a closure moving a whole day of bookings', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let sql: pg.Pool;
  const PER_WINDOW = 3; // three informateurs per domain, one place each

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { now: '2026-11-23T09:00:00+01:00', env: NO_LIMITS });
    sql = new pg.Pool({ connectionString: db.url, max: 1 });
  });
  afterAll(async () => {
    await sql?.end();
    await t?.close();
    await db?.drop();
  });

  it('moves them all in window order to later windows, never overbooking, each window counted right', async () => {
    const domains = ['travail', 'logement'];
    for (const d of domains) for (let i = 0; i < PER_WINDOW; i++) await createAgent(t.app, [d], `${d} ${i}`);
    // Thursday 26 November, 08:30–18:15: 20 windows (the last 18:00–18:15), all full; Friday
    // 27 13:00–17:00 half full, so the moves fill its free places first, then Monday's.
    const thursday: string[] = [];
    for (let m = 8 * 60 + 30; m < 18 * 60 + 15; m += 30)
      thursday.push(
        `2026-11-26T${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00+01:00`,
      );
    const booked = new Map<string, string[]>(); // domain → references in window order
    for (const d of domains) {
      const refs: string[] = [];
      for (const start of thursday)
        for (let i = 0; i < PER_WINDOW; i++) refs.push(await bookSlot(t.app, d, start));
      booked.set(d, refs);
      for (const start of ['2026-11-27T13:00:00+01:00', '2026-11-27T14:00:00+01:00'])
        for (let i = 0; i < 2; i++) await bookSlot(t.app, d, start);
    }

    const res = await postClosure(t.app, { date: '2026-11-26', reason: 'Grève', moveBookings: true });
    expect(res.statusCode, res.body).toBe(201);
    const { moved, notMoved } = res.json() as {
      moved: { reference: string; from: { start: string }; to: { start: string; end: string } }[];
      notMoved: string[];
    };
    expect(notMoved).toEqual([]);
    expect(moved).toHaveLength(domains.length * thursday.length * PER_WINDOW);

    for (const d of domains) {
      const mine = moved.filter((m) => booked.get(d)!.includes(m.reference));
      // Reported in window order (then booking order), as the bookings were found.
      expect(mine.map((m) => m.reference)).toEqual(booked.get(d));
      // The first free places after Thursday, in order: Friday's (1 at 13:00 and 14:00, 3 at the
      // other six windows: 20 places), then Monday's from 08:30 on.
      const targets = mine.map((m) => m.to.start);
      expect([...targets].sort()).toEqual(targets);
      expect(targets.slice(0, 2)).toEqual(['2026-11-27T13:00:00+01:00', '2026-11-27T13:30:00+01:00']);
      expect(targets.filter((s) => s.startsWith('2026-11-27'))).toHaveLength(20);
      expect(targets[20]).toBe('2026-11-30T08:30:00+01:00');
      for (const m of mine) expect(m.to.start > m.from.start).toBe(true);
    }

    // Each window's count is the number of bookings it holds, never over its capacity.
    const { rows } = await sql.query(`
      WITH held AS (
        SELECT domain, window_start, count(*)::int AS n FROM callbacks
        WHERE mode = 'slot' AND status = 'scheduled' GROUP BY domain, window_start)
      SELECT coalesce(w.domain, h.domain) AS domain, coalesce(w.window_start, h.window_start) AS ws,
        coalesce(w.booked, 0) AS booked, coalesce(h.n, 0) AS held
      FROM window_load w FULL JOIN held h ON h.domain = w.domain AND h.window_start = w.window_start
      WHERE coalesce(w.booked, 0) <> coalesce(h.n, 0) OR coalesce(w.booked, 0) > ${PER_WINDOW}`);
    expect(rows).toEqual([]);

    // Each move is in its callback's history, and each window moved to has its due job.
    const first = moved[0]!;
    expect((await opsView(t.app, first.reference)).history.at(-1)).toMatchObject({
      type: 'moved',
      actor: 'ops',
      data: { closureId: res.json().id, to: first.to },
    });
    const due = await sql.query<{ job_id: string }>(
      `SELECT job_id FROM outbox WHERE job_name = 'window-due'`,
    );
    const jobs = new Set(due.rows.map((r) => r.job_id));
    for (const m of moved) {
      const domain = domains.find((d) => booked.get(d)!.includes(m.reference))!;
      expect(jobs.has(`window-due-${domain}-${Date.parse(m.to.start)}`), m.to.start).toBe(true);
    }
  });
});
