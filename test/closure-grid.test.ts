import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { booking, createAgent, ops } from './support/api.js';

/**
 * Windows are cut from the start of each opening interval: a part-day closure that ends between
 * two window starts restarts the cut at its end, and deleting it cuts from the opening again.
 * Places are counted by window start, so a booking left on a window that no longer exists would
 * stop counting: with one informateur (one place per window), no overlap may ever hold two calls.
 */
describe('a closure that shifts the windows of its day', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;

  const book = (slotStart: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'travail', slotStart }),
    });
  const windowOf = async (reference: string) =>
    (await t.app.inject({ url: `/v1/callbacks/${reference}`, headers: ops })).json().window;
  const slotStarts = async () =>
    (
      (await t.app.inject('/v1/slots?domain=travail&from=2026-11-23&days=1')).json().slots as {
        start: string;
      }[]
    ).map((s) => s.start.slice(11, 16));

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { now: '2026-11-23T08:00:00+01:00', env: NO_LIMITS });
    await createAgent(t.app, ['travail'], 'Alice'); // one place per window
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('counts the bookings of the shifted windows as covered, when added and when deleted', async () => {
    const x = await book('2026-11-23T11:00:00+01:00');
    expect(x.statusCode, x.body).toBe(201);
    const X = x.json().reference as string;

    // 10:00–10:45 shifts the later windows to 10:45, 11:15, …: the 11:00 booking is refused …
    const closure = { date: '2026-11-23', start: '10:00', end: '10:45', reason: 'Exercice incendie' };
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/closures',
      headers: ops,
      payload: closure,
    });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'CLOSURE_HAS_BOOKINGS', references: [X] });
    // … and moved when asked, to the next window of the new cut.
    const added = await t.app.inject({
      method: 'POST',
      url: '/v1/closures',
      headers: ops,
      payload: { ...closure, moveBookings: true },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json().moved).toEqual([
      {
        reference: X,
        from: { start: '2026-11-23T11:00:00+01:00', end: '2026-11-23T11:30:00+01:00' },
        to: { start: '2026-11-23T11:15:00+01:00', end: '2026-11-23T11:45:00+01:00' },
      },
    ]);
    expect(await slotStarts()).toContain('10:45');
    expect(await slotStarts()).not.toContain('11:15'); // full
    const y = await book('2026-11-23T10:45:00+01:00');
    expect(y.statusCode, y.body).toBe(201);
    const Y = y.json().reference as string;
    expect((await book('2026-11-23T11:15:00+01:00')).json().code).toBe('SLOT_FULL');

    // Deleting it cuts from 08:30 again: 10:45 and 11:15 are no windows any more.
    const id = added.json().id as string;
    const kept = await t.app.inject({ method: 'DELETE', url: `/v1/closures/${id}`, headers: ops });
    expect(kept.statusCode, kept.body).toBe(409);
    expect(kept.json()).toMatchObject({ code: 'CLOSURE_HAS_BOOKINGS', references: [Y, X] });
    expect((await t.app.inject({ url: '/v1/closures', headers: ops })).json()).toHaveLength(1);
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/v1/closures/${id}?moveBookings=true`,
      headers: ops,
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(await windowOf(Y)).toEqual({
      start: '2026-11-23T11:00:00+01:00',
      end: '2026-11-23T11:30:00+01:00',
    });
    expect(await windowOf(X)).toEqual({
      start: '2026-11-23T11:30:00+01:00',
      end: '2026-11-23T12:00:00+01:00',
    });
    for (const start of ['11:00', '11:30'])
      expect((await book(`2026-11-23T${start}:00+01:00`)).json().code).toBe('SLOT_FULL');
    expect(await slotStarts()).toEqual(expect.arrayContaining(['10:30', '12:00']));
  });

  it('leaves the bookings alone when the closure ends on a window start', async () => {
    const z = await book('2026-11-23T15:00:00+01:00');
    expect(z.statusCode, z.body).toBe(201);
    const added = await t.app.inject({
      method: 'POST',
      url: '/v1/closures',
      headers: ops,
      payload: { date: '2026-11-23', start: '13:40', end: '14:30', reason: 'Réunion' },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json().moved).toEqual([]);
    const id = added.json().id as string;
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/v1/closures/${id}`, headers: ops })).statusCode,
    ).toBe(204);
    expect((await windowOf(z.json().reference as string)).start).toBe('2026-11-23T15:00:00+01:00');
  });
});
