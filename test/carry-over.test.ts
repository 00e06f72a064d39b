import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { createAgent, ops, bookSlot, opsView } from './support/api.js';
import { pull } from './support/desk.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

/**
 * "A callback not handled by closing time goes first in line at the next opening." The sweep
 * marks it while the centre is closed; when no sweep ran then (the service was down over the
 * closing), the first sweep after the opening marks what was due before that opening.
 */
describe('carry-over when no sweep saw the closing', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let chloe: { id: string; token: string };

  const book = (slotStart: string) => bookSlot(t.app, 'justice', slotStart);
  const view = (reference: string) => opsView(t.app, reference);
  const sweep = () => t.rt.services.reconciler.sweep();

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { now: '2026-11-23T08:00:00+01:00', env: NO_LIMITS });
    chloe = await createAgent(t.app, ['justice'], 'Chloé'); // offline: nobody takes the calls
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('a call queued Monday, the service down from Monday noon to Tuesday 09:00: carried over at the first sweep', async () => {
    const monday = await book('2026-11-23T10:00:00+01:00');
    const tuesday = await book('2026-11-24T08:30:00+01:00');
    t.clock.set(at('2026-11-23T10:05:00+01:00'));
    await sweep();
    expect(await view(monday)).toMatchObject({ status: 'queued', carriedOver: false });

    // Open again and a sweep: nothing is carried over while the day is still the one it was due in.
    t.clock.set(at('2026-11-23T12:00:00+01:00'));
    expect((await sweep()).carriedOver ?? 0).toBe(0);
    expect((await view(monday)).carriedOver).toBe(false);

    // No sweep from Monday noon to Tuesday 09:00 (the service was down over Monday's closing).
    t.clock.set(at('2026-11-24T09:00:00+01:00'));
    await sweep();
    const carried = await view(monday);
    expect(carried).toMatchObject({ status: 'queued', carriedOver: true });
    const event = carried.history.find((e: { type: string }) => e.type === 'carried_over');
    expect(event).toMatchObject({ actor: 'system', at: '2026-11-24T09:00:00+01:00' });
    // Due at this opening (Tuesday 08:30): queued, not carried over.
    expect(await view(tuesday)).toMatchObject({ status: 'queued', carriedOver: false });

    // First in line, and marked once.
    await sweep();
    const history = (await view(monday)).history.filter((e: { type: string }) => e.type === 'carried_over');
    expect(history).toHaveLength(1);
    expect((await pull(t.app, chloe.token))?.reference).toBe(monday);
  });

  it('a part-day closure no sweep saw: what was due before it is carried over after it', async () => {
    t.clock.set(at('2026-11-24T09:30:00+01:00'));
    const closure = await t.app.inject({
      method: 'POST',
      url: '/v1/closures',
      headers: ops,
      payload: { date: '2026-11-25', reason: 'Exercice incendie', start: '10:00', end: '11:00' },
    });
    expect(closure.statusCode, closure.body).toBe(201);
    const before = await book('2026-11-25T09:00:00+01:00');
    const after = await book('2026-11-25T11:00:00+01:00');
    t.clock.set(at('2026-11-25T09:10:00+01:00'));
    await sweep();
    expect(await view(before)).toMatchObject({ status: 'queued', carriedOver: false });
    t.clock.set(at('2026-11-25T11:05:00+01:00')); // no sweep during the closure
    await sweep();
    expect(await view(before)).toMatchObject({ status: 'queued', carriedOver: true });
    expect(await view(after)).toMatchObject({ status: 'queued', carriedOver: false });
  });

  it('a backlog of 12,000 queued callbacks at closing: carried over a share per sweep, each with its event, the sweep going on', async () => {
    // One statement writes the marks and their events: with the events written apart, a sweep
    // marking more than 9,362 failed (65,535 bind parameters) and every later sweep with it.
    const sql = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await sql.query(`
        INSERT INTO callbacks (id, reference, domain, mode, status, phone, window_start, window_end, due_at,
          queued_at, cancel_token_hash, created_at, updated_at)
        SELECT gen_random_uuid(), 'BULK-' || lpad(i::text, 5, '0'), -- no real reference looks like it
          (ARRAY['travail','interieur','justice','logement'])[1 + i % 4], 'slot', 'queued',
          '+3361' || lpad(i::text, 7, '0'), t, t + interval '30 minutes', t, t, '\\x00'::bytea, t, t
        FROM generate_series(1, 12000) i, (SELECT '2026-11-26T17:00:00+01:00'::timestamptz AS t) w`);
      t.clock.set(at('2026-11-26T18:20:00+01:00')); // Thursday, closed
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) counts.push((await sweep()).carriedOver);
      expect(counts[0]).toBeGreaterThan(0);
      const { rows } = await sql.query<{ marked: number; events: number; left: number }>(`
        SELECT (SELECT count(*)::int FROM callbacks WHERE reference LIKE 'BULK-%' AND carried_over) AS marked,
          (SELECT count(*)::int FROM callback_events e JOIN callbacks c ON c.id = e.callback_id
            WHERE c.reference LIKE 'BULK-%' AND e.type = 'carried_over') AS events,
          (SELECT count(*)::int FROM callbacks WHERE status = 'queued' AND NOT carried_over) AS left`);
      expect(rows[0]).toEqual({ marked: 12000, events: 12000, left: 0 });
      expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12000);
      expect(Math.max(...counts), JSON.stringify(counts)).toBeLessThanOrEqual(5000); // 1250 per domain
    } finally {
      await sql.end();
    }
  });
});
