import { describe, expect, it } from 'vitest';
import type { TestContext } from './support/runtime.js';
import { calendarApp } from './support/calendar.js';
import { booking, createAgent, deleteClosure, ops, postClosure } from './support/api.js';

describe('closures over HTTP', () => {
  let t: TestContext;
  calendarApp((ctx) => (t = ctx));

  it('requires the ops token', async () => {
    expect((await t.app.inject('/v1/closures')).statusCode).toBe(401);
    const wrong = await t.app.inject({ url: '/v1/closures', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('UNAUTHORIZED');
    const agent = await createAgent(t.app, ['justice'], 'Not ops');
    const role = await t.app.inject({
      url: '/v1/closures',
      headers: { authorization: `Bearer ${agent.token}` },
    });
    expect(role.statusCode).toBe(403);
    expect(role.json().code).toBe('FORBIDDEN');
    await t.app.inject({
      method: 'PATCH',
      url: `/v1/agents/${agent.id}`,
      headers: ops,
      payload: { active: false },
    });
  });

  it('closes a whole day and a part of a day, and deletes a closure', async () => {
    const whole = await postClosure(t.app, { date: '2026-11-26', reason: 'Formation' });
    expect(whole.statusCode).toBe(201);
    expect(whole.json()).toMatchObject({
      date: '2026-11-26',
      start: null,
      end: null,
      reason: 'Formation',
      moved: [],
      notMoved: [],
    });
    const part = await postClosure(t.app, {
      date: '2026-11-30',
      reason: 'Réunion de service',
      start: '12:00',
      end: '14:00',
    });
    expect(part.statusCode).toBe(201);
    const days = (await t.app.inject('/v1/opening-hours?from=2026-11-26&days=5')).json().days;
    expect(days[0]).toMatchObject({ open: false, closedReason: 'closure', label: 'Formation' });
    expect(days[4].intervals).toEqual([
      { start: '2026-11-30T08:30:00+01:00', end: '2026-11-30T12:00:00+01:00' },
      { start: '2026-11-30T14:00:00+01:00', end: '2026-11-30T18:15:00+01:00' },
    ]);
    const list = (await t.app.inject({ url: '/v1/closures', headers: ops })).json();
    expect(list.map((c: { date: string }) => c.date)).toEqual(['2026-11-26', '2026-11-30']);
    const booked = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-26T09:00:00+01:00' }),
    });
    expect(booked.statusCode).toBe(422);
    expect(booked.json()).toMatchObject({ code: 'CENTRE_CLOSED', reason: 'closure' });
    const inPart = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-30T12:30:00+01:00' }),
    });
    expect(inPart.json()).toMatchObject({ code: 'CENTRE_CLOSED', reason: 'closure' });
    expect((await deleteClosure(t.app, whole.json().id)).statusCode).toBe(204);
    expect((await deleteClosure(t.app, whole.json().id)).statusCode).toBe(404);
    expect((await t.app.inject('/v1/opening-hours?from=2026-11-26&days=1')).json().days[0].open).toBe(true);
  });

  it.each([
    [{ date: '2026-03-29', reason: 'x', start: '02:00', end: '02:45' }, 'non-existent local time'],
    [{ date: '2026-10-25', reason: 'x', start: '02:15', end: '04:00' }, 'ambiguous local time'],
    [{ date: '2026-11-27', reason: 'x', start: '14:00' }, 'start without end'],
    [{ date: '2026-11-27', reason: 'x', start: '14:00', end: '13:00' }, 'end before start'],
    [{ date: '2026-02-30', reason: 'x' }, 'date that does not exist'],
    [{ date: '2026-11-27', reason: '   ' }, 'blank reason'],
    // The clock reads 2026-11-23T08:00 (a Monday).
    [{ date: '2026-11-20', reason: 'x' }, 'a day already past'],
    [{ date: '2026-11-23', reason: 'x', start: '06:00', end: '08:00' }, 'a span of today already over'],
  ])('refuses %o (%s) with VALIDATION_ERROR', async (payload, _why: string) => {
    const res = await postClosure(t.app, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_ERROR');
  });

  it('accepts a closure of today still running or to come', async () => {
    const res = await postClosure(t.app, {
      date: '2026-11-23',
      reason: 'Panne téléphonique',
      start: '07:00',
      end: '08:01',
    });
    expect(res.statusCode, res.body).toBe(201);
    const del = await deleteClosure(t.app, res.json().id);
    expect(del.statusCode).toBe(204);
  });

  it('keeps a closure once it is wholly over: deleting it is refused, the hours it closed stay closed', async () => {
    const at = t.clock.now();
    const res = await postClosure(t.app, {
      date: '2026-11-23',
      reason: 'Exercice incendie',
      start: '08:30',
      end: '09:00',
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json().id;
    try {
      t.clock.set(at.plus({ minutes: 45 })); // 08:45: still running, deletable
      const running = await postClosure(t.app, {
        date: '2026-11-23',
        reason: 'Réunion',
        start: '08:50',
        end: '08:55',
      });
      expect(running.statusCode, running.body).toBe(201);
      t.clock.set(at.plus({ minutes: 52 }));
      expect((await deleteClosure(t.app, running.json().id)).statusCode).toBe(204);
      t.clock.set(at.plus({ minutes: 60 })); // 09:00: over
      const del = await deleteClosure(t.app, id);
      expect(del.statusCode).toBe(409);
      expect(del.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(del.json()).toMatchObject({ code: 'INVALID_TRANSITION' });
      const listed = (await t.app.inject({ url: '/v1/closures?from=2026-11-23', headers: ops })).json();
      expect(JSON.stringify(listed)).toContain(id);
      const day = (await t.app.inject('/v1/opening-hours?from=2026-11-23&days=1')).json().days[0];
      expect(JSON.stringify(day)).toContain('T09:00');
      expect(JSON.stringify(day)).not.toContain('T08:30');
    } finally {
      t.clock.set(at);
      // Back before it began, it can go: the later tests share this database.
      expect((await deleteClosure(t.app, id)).statusCode).toBe(204);
    }
  });

  it('refuses a closure over bookings, then moves them when asked, recording each move', async () => {
    const a = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'logement', slotStart: '2026-12-01T09:00:00+01:00' }),
    });
    const b = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'logement', slotStart: '2026-12-01T09:30:00+01:00' }),
    });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const refused = await postClosure(t.app, {
      date: '2026-12-01',
      reason: 'Panne téléphonique',
      start: '08:30',
      end: '10:00',
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('CLOSURE_HAS_BOOKINGS');
    expect(refused.json().references.sort()).toEqual([a.json().reference, b.json().reference].sort());
    expect((await t.app.inject({ url: '/v1/closures?from=2026-12-01', headers: ops })).json()).toEqual([]);

    const moved = await t.app.inject({
      method: 'POST',
      url: '/v1/closures',
      headers: ops,
      payload: {
        date: '2026-12-01',
        reason: 'Panne téléphonique',
        start: '08:30',
        end: '10:00',
        moveBookings: true,
      },
    });
    expect(moved.statusCode).toBe(201);
    // logement has one informateur: one place per window, so they go to 10:00 and 10:30.
    expect(moved.json().moved).toEqual([
      {
        reference: a.json().reference,
        from: { start: '2026-12-01T09:00:00+01:00', end: '2026-12-01T09:30:00+01:00' },
        to: { start: '2026-12-01T10:00:00+01:00', end: '2026-12-01T10:30:00+01:00' },
      },
      {
        reference: b.json().reference,
        from: { start: '2026-12-01T09:30:00+01:00', end: '2026-12-01T10:00:00+01:00' },
        to: { start: '2026-12-01T10:30:00+01:00', end: '2026-12-01T11:00:00+01:00' },
      },
    ]);
    const view = (await t.app.inject({ url: `/v1/callbacks/${a.json().reference}`, headers: ops })).json();
    expect(view.window.start).toBe('2026-12-01T10:00:00+01:00');
    expect(view.history.map((h: { type: string }) => h.type)).toEqual(['created', 'moved']);
    const load = await t.rt.db
      .selectFrom('window_load')
      .select(['window_start', 'booked'])
      .where('domain', '=', 'logement')
      .orderBy('window_start')
      .execute();
    expect(load.filter((l) => l.booked > 0).map((l) => [l.window_start.toISOString(), l.booked])).toEqual([
      ['2026-12-01T09:00:00.000Z', 1],
      ['2026-12-01T09:30:00.000Z', 1],
    ]);
  });

  const bookLogement = (slotStart: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'logement', slotStart }),
    });

  it('moves a booking on the last day of the horizon past it, where its next windows are', async () => {
    const last = await bookLogement('2026-12-07T18:00:00+01:00');
    expect(last.statusCode).toBe(201);
    const res = await postClosure(t.app, { date: '2026-12-07', reason: 'Grève', moveBookings: true });
    expect(res.statusCode).toBe(201);
    expect(res.json().notMoved).toEqual([]);
    const view = (await t.app.inject({ url: `/v1/callbacks/${last.json().reference}`, headers: ops })).json();
    expect(view.window.start).toBe('2026-12-08T08:30:00+01:00');
  });

  it('reports, and leaves in place, a booking that cannot move', async () => {
    const friday = await bookLogement('2026-12-04T13:00:00+01:00');
    expect(friday.statusCode).toBe(201);
    // Nobody takes logement calls any more: no window anywhere has a place.
    const agents = (await t.app.inject({ url: '/v1/agents', headers: ops })).json() as {
      id: string;
      displayName: string;
    }[];
    const a = agents.find((x) => x.displayName === 'A')!;
    const patch = (domains: string[]) =>
      t.app.inject({ method: 'PATCH', url: `/v1/agents/${a.id}`, headers: ops, payload: { domains } });
    expect((await patch(['travail'])).statusCode).toBe(200);
    try {
      const res = await postClosure(t.app, { date: '2026-12-04', reason: 'Grève', moveBookings: true });
      expect(res.statusCode).toBe(201);
      expect(res.json().notMoved).toEqual([friday.json().reference]);
      const view = (
        await t.app.inject({ url: `/v1/callbacks/${friday.json().reference}`, headers: ops })
      ).json();
      expect(view.status).toBe('scheduled');
      expect(view.window.start).toBe('2026-12-04T13:00:00+01:00');
    } finally {
      expect((await patch(['travail', 'logement'])).statusCode).toBe(200);
    }
  });
});
