import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { createAgent, bookSlot } from './support/api.js';
import { outcome, pull } from './support/desk.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

/**
 * The callbacks of one window share their due time, carry-over flag and attempt count: they are
 * called in the order they were booked (an outside test booked three for 16:30 and was called
 * 3, 1, 2), and one handed back to the queue keeps its place among them.
 */
describe('the order of one window’s callbacks', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;

  beforeAll(async () => {
    db = await createTestDatabase();
    // A frozen clock: every booking below is made in the same millisecond.
    t = await startTestApp(db.url, 'postgres', { now: '2026-11-23T08:00:00+01:00', env: NO_LIMITS });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('calls them in booking order, a callback handed back keeping its place', async () => {
    const agents = [];
    for (let i = 0; i < 6; i++) agents.push(await createAgent(t.app, ['logement'], `Informateur ${i}`));
    const booked: string[] = [];
    for (let i = 0; i < 6; i++) booked.push(await bookSlot(t.app, 'logement', '2026-11-23T10:00:00+01:00'));

    t.clock.set(at('2026-11-23T10:05:00+01:00'));
    await t.rt.services.reconciler.sweep(); // queues the window's callbacks

    // The first informateur takes the head, then goes offline: it goes back in its place.
    const [first, other] = [agents[0]!, agents[1]!];
    expect((await pull(t.app, first.token))?.reference).toBe(booked[0]);
    const offline = await t.app.inject({
      method: 'PUT',
      url: '/v1/agents/me/status',
      headers: { authorization: `Bearer ${first.token}` },
      payload: { status: 'offline' },
    });
    expect(offline.statusCode, offline.body).toBe(200);

    const called: string[] = [];
    for (let i = 0; i < booked.length; i++) {
      const next = await pull(t.app, other.token);
      expect(next).not.toBeNull();
      called.push(next!.reference);
      const res = await outcome(t.app, other.token, next!.reference, { outcome: 'reached' });
      expect(res.statusCode, res.body).toBe(200);
    }
    expect(called).toEqual(booked);
  });
});
