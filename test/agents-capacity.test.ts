import { describe, expect, it } from 'vitest';
import type { TestContext } from './support/runtime.js';
import { calendarApp } from './support/calendar.js';
import { booking, createAgent, ops } from './support/api.js';
import { windowsOverCapacity } from '../src/repositories/window-load.js';

/**
 * Ops lowering a domain's staffing (deactivation, other domains) keep the bookings made, and
 * are told which windows now hold more than the informateurs left can call.
 */
describe('an informateur change that leaves windows over capacity', () => {
  let t: TestContext;
  calendarApp((ctx) => (t = ctx)); // A (travail, logement), B (travail)

  const patch = (id: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'PATCH', url: `/v1/agents/${id}`, headers: ops, payload });
  const book = async (slotStart: string) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking({ slotStart }) });
    expect(res.statusCode).toBe(201);
    return res.json().reference as string;
  };

  it('lists them in the answer, with their bookings, and keeps the bookings', async () => {
    const c = await createAgent(t.app, ['travail'], 'C'); // travail: 3 places a window
    const full = [
      await book('2026-11-24T09:00:00+01:00'),
      await book('2026-11-24T09:00:00+01:00'),
      await book('2026-11-24T09:00:00+01:00'),
    ];
    const two = [await book('2026-11-24T10:00:00+01:00'), await book('2026-11-24T10:00:00+01:00')];

    // A new name only: nothing to say.
    const renamed = await patch(c.id, { displayName: 'C bis' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).not.toHaveProperty('windowsOverCapacity');

    // C deactivated: 2 places a window; only 09:00 holds more.
    const deactivated = await patch(c.id, { active: false });
    expect(deactivated.statusCode).toBe(200);
    expect(deactivated.json()).toMatchObject({ active: false });
    expect(deactivated.json().windowsOverCapacity).toEqual([
      { domain: 'travail', start: '2026-11-24T09:00:00+01:00', booked: 3, capacity: 2, references: full },
    ]);

    // B moved to justice: 1 place a window in travail; both windows, in time order.
    const [b] = (await t.app.inject({ url: '/v1/agents', headers: ops }))
      .json()
      .filter((a: { displayName: string }) => a.displayName === 'B');
    const moved = await patch(b.id, { domains: ['justice'] });
    expect(moved.json().windowsOverCapacity).toEqual([
      { domain: 'travail', start: '2026-11-24T09:00:00+01:00', booked: 3, capacity: 1, references: full },
      { domain: 'travail', start: '2026-11-24T10:00:00+01:00', booked: 2, capacity: 1, references: two },
    ]);
    // The bookings stand, and their windows are no longer offered.
    for (const reference of [...full, ...two]) {
      const view = await t.app.inject({ url: `/v1/callbacks/${reference}`, headers: ops });
      expect(view.json().status).toBe('scheduled');
    }
    const slots = (await t.app.inject('/v1/slots?domain=travail&from=2026-11-24&days=1')).json().slots;
    expect(slots.map((s: { start: string }) => s.start)).not.toContain('2026-11-24T09:00:00+01:00');

    // Ops watching the queue see them too.
    const queue = (await t.app.inject({ url: '/v1/queue', headers: ops })).json();
    expect(
      queue.windowsOverCapacity.map((w: { start: string; capacity: number }) => [w.start, w.capacity]),
    ).toEqual([
      ['2026-11-24T09:00:00+01:00', 1],
      ['2026-11-24T10:00:00+01:00', 1],
    ]);

    // Bounded: the first windows in time order, the first references of each.
    const bounded = await windowsOverCapacity(
      t.rt.db,
      new Date('2026-11-24T00:00:00+01:00'),
      [{ domain: 'travail', capacity: 1 }],
      { maxWindows: 1, maxReferences: 2 },
    );
    expect(bounded.map((w) => [w.booked, w.references])).toEqual([[3, full.slice(0, 2)]]);

    // Staffed again: nothing over capacity.
    expect((await patch(b.id, { domains: ['justice', 'travail'] })).json().windowsOverCapacity).toEqual([
      { domain: 'travail', start: '2026-11-24T09:00:00+01:00', booked: 3, capacity: 2, references: full },
    ]);
    await patch(c.id, { active: true });
    expect((await patch(c.id, { domains: ['travail'] })).json().windowsOverCapacity).toEqual([]);
    expect((await t.app.inject({ url: '/v1/queue', headers: ops })).json().windowsOverCapacity).toEqual([]);
  });
});
