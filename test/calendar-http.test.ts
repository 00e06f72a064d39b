import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { createTestDatabase, NO_LIMITS, startTestApp, type TestContext } from './support/runtime.js';
import { calendarApp } from './support/calendar.js';
import { booking, createAgent, postClosure } from './support/api.js';

describe('calendar over HTTP: domains, opening hours, slots', () => {
  let t: TestContext;
  calendarApp((ctx) => (t = ctx));

  it('lists the four domains', async () => {
    const res = await t.app.inject('/v1/domains');
    expect(res.statusCode).toBe(200);
    expect(res.json().map((d: { code: string }) => d.code)).toEqual([
      'travail',
      'interieur',
      'justice',
      'logement',
    ]);
    for (const d of res.json()) expect(d.label && d.description).toBeTruthy();
  });

  it('gives the week of 2026-12-21 with Christmas and Saint-Étienne closed', async () => {
    const res = await t.app.inject('/v1/opening-hours?from=2026-12-21&days=7');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.timezone).toBe('Europe/Paris');
    expect(body.days.map((d: { date: string; open: boolean }) => [d.date, d.open])).toEqual([
      ['2026-12-21', true],
      ['2026-12-22', true],
      ['2026-12-23', true],
      ['2026-12-24', true],
      ['2026-12-25', false],
      ['2026-12-26', false],
      ['2026-12-27', false],
    ]);
    expect(body.days[0].intervals).toEqual([
      { start: '2026-12-21T08:30:00+01:00', end: '2026-12-21T18:15:00+01:00' },
    ]);
    expect(body.days[1].intervals).toEqual([
      { start: '2026-12-22T08:30:00+01:00', end: '2026-12-22T13:00:00+01:00' },
    ]);
    expect(body.days[4]).toMatchObject({ closedReason: 'holiday', label: 'Noël', intervals: [] });
    expect(body.days[6]).toMatchObject({ closedReason: 'weekend' });
  });

  it('defaults to 7 days from today and accepts the contract bounds', async () => {
    const res = await t.app.inject('/v1/opening-hours');
    expect(res.json().days).toHaveLength(7);
    expect(res.json().days[0].date).toBe('2026-11-23');
    expect((await t.app.inject('/v1/opening-hours?from=2000-01-01&days=366')).statusCode).toBe(200);
    const last = await t.app.inject('/v1/opening-hours?from=2100-12-01&days=31');
    expect(last.statusCode).toBe(200);
    expect(last.json().days[30].date).toBe('2100-12-31');
  });

  it('runs the days up to 2100-12-31 from a valid date near it, default days included', async () => {
    for (const [query, dates] of [
      ['from=2100-12-30', ['2100-12-30', '2100-12-31']],
      ['from=2100-12-31&days=2', ['2100-12-31']],
      ['from=2100-12-01&days=366', null],
    ] as const) {
      const res = await t.app.inject(`/v1/opening-hours?${query}`);
      expect(res.statusCode, `${query}: ${res.body}`).toBe(200);
      const got = res.json().days.map((d: { date: string }) => d.date);
      if (dates) expect(got, query).toEqual(dates);
      else expect([got.length, got.at(-1)], query).toEqual([31, '2100-12-31']);
    }
    const slots = await t.app.inject('/v1/slots?domain=travail&from=2100-12-30');
    expect(slots.statusCode, slots.body).toBe(200);
    expect(slots.json().slots).toEqual([]); // beyond the booking horizon
  });

  it.each([
    ['days=0', 'days'],
    ['days=367', 'days'],
    ['from=2026-02-30', 'date'],
    ['from=1999-12-31', 'range'],
    ['from=2101-01-01', 'range'],
    ['from=tomorrow', 'pattern'],
    // Numbers are JSON numbers: not what JavaScript's Number() also reads.
    ['days=0x10', 'hexadecimal'],
    ['days=%201', 'leading space'],
    ['days=1%20', 'trailing space'],
    ['days=0b11', 'binary'],
    ['days=+3', 'plus sign'],
  ])('refuses opening-hours?%s with VALIDATION_ERROR (%s)', async (query) => {
    const res = await t.app.inject(`/v1/opening-hours?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_ERROR');
  });

  it('reads query numbers as JSON numbers', async () => {
    for (const [days, length] of [
      ['1e1', 10],
      ['3', 3],
      ['3.0', 3],
    ] as const) {
      const res = await t.app.inject(`/v1/opening-hours?days=${days}`);
      expect(res.statusCode, days).toBe(200);
      expect(res.json().days, days).toHaveLength(length);
    }
    const refused = await t.app.inject('/v1/slots?domain=travail&days=0x2');
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(JSON.stringify(refused.json())).toContain('days');
  });

  it("ignores query parameters of the page's own, such as jQuery's cache-buster", async () => {
    for (const url of ['/v1/opening-hours?days=3', '/v1/slots?domain=travail&days=2']) {
      const busted = await t.app.inject(`${url}&_=1764057600000&utm_source=x`);
      expect(busted.statusCode, busted.body).toBe(200);
      expect(busted.json()).toEqual((await t.app.inject(url)).json());
    }
  });

  it('takes an empty from or days as absent (today, the default span); an empty domain is missing', async () => {
    for (const [empty, plain] of [
      ['/v1/opening-hours?from=&days=', '/v1/opening-hours'],
      ['/v1/slots?domain=travail&from=', '/v1/slots?domain=travail'],
      ['/v1/slots?domain=travail&from=&days=', '/v1/slots?domain=travail'],
    ]) {
      const res = await t.app.inject(empty!);
      expect(res.statusCode, `${empty} ${res.body}`).toBe(200);
      expect(res.json()).toEqual((await t.app.inject(plain!)).json());
    }
    const noDomain = await t.app.inject('/v1/slots?domain=&from=');
    expect([noDomain.statusCode, noDomain.json().code]).toEqual([400, 'VALIDATION_ERROR']);
  });

  it('offers only bookable windows, with the capacity of the domain', async () => {
    const res = await t.app.inject('/v1/slots?domain=travail&days=1');
    expect(res.statusCode).toBe(200);
    const { slots } = res.json();
    // Monday 08:30–18:15: 20 windows, the last one 18:00–18:15; 2 informateurs of travail.
    expect(slots).toHaveLength(20);
    expect(slots[0]).toEqual({
      start: '2026-11-23T08:30:00+01:00',
      end: '2026-11-23T09:00:00+01:00',
      remaining: 2,
    });
    expect(slots[19]).toEqual({
      start: '2026-11-23T18:00:00+01:00',
      end: '2026-11-23T18:15:00+01:00',
      remaining: 2,
    });
    const logement = (await t.app.inject('/v1/slots?domain=logement&days=1')).json().slots;
    expect(logement[0].remaining).toBe(1);
    expect((await t.app.inject('/v1/slots?domain=justice&days=1')).json().slots).toEqual([]);
  });

  it('stops at the booking horizon and respects the minimum notice', async () => {
    t.clock.set(DateTime.fromISO('2026-11-23T08:20:00+01:00', { setZone: true }));
    const { slots } = (await t.app.inject('/v1/slots?domain=travail')).json();
    expect(slots[0].start).toBe('2026-11-23T09:00:00+01:00'); // 08:30 is less than 15 minutes away
    expect(slots[slots.length - 1].start.slice(0, 10)).toBe('2026-12-07'); // today + 14 days
    t.clock.set(DateTime.fromISO('2026-11-23T08:00:00+01:00', { setZone: true }));
  });

  it('a booked window shows one place less, and a full one disappears', async () => {
    const first = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-23T10:00:00+01:00' }),
    });
    expect(first.statusCode).toBe(201);
    const find = async () =>
      (await t.app.inject('/v1/slots?domain=travail&days=1'))
        .json()
        .slots.find((s: { start: string }) => s.start === '2026-11-23T10:00:00+01:00');
    expect((await find()).remaining).toBe(1);
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/v1/callbacks',
          payload: booking({ slotStart: '2026-11-23T10:00:00+01:00' }),
        })
      ).statusCode,
    ).toBe(201);
    expect(await find()).toBeUndefined();
  });
});

describe('the longest horizon (BOOKING_HORIZON_DAYS=366)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { env: { ...NO_LIMITS, BOOKING_HORIZON_DAYS: '366' } });
    await createAgent(t.app, ['travail']);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('lists slots and moves bookings, one query spanning 366 days at most', async () => {
    // Today 2026-11-23: the horizon's last day is 2027-11-24, 367 days from today included; the
    // default listing shows 366 of them (to 2027-11-23), as `days` could at most.
    const slots = await t.app.inject('/v1/slots?domain=travail');
    expect(slots.statusCode, slots.body).toBe(200);
    expect(slots.json().slots.at(-1).start.slice(0, 10)).toBe('2027-11-23');
    // A refusal offers its next windows, read over the same span.
    const post = (slotStart: string, phone: string) =>
      t.app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking({ slotStart, phone }) });
    expect((await post('2026-11-23T08:30:00+01:00', '06 11 22 33 44')).statusCode).toBe(201);
    const full = await post('2026-11-23T08:30:00+01:00', '06 11 22 33 55');
    expect(full.json()).toMatchObject({ code: 'SLOT_FULL' });
    expect(full.json().nextSlots).toHaveLength(3);
    const booked = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2027-11-22T09:00:00+01:00' }),
    });
    expect(booked.statusCode, booked.body).toBe(201);
    const moved = await postClosure(t.app, { date: '2027-11-22', reason: 'Grève', moveBookings: true });
    expect(moved.statusCode, moved.body).toBe(201);
    expect(moved.json().moved[0].to.start).toBe('2027-11-23T08:30:00+01:00');
    // From today, the moves' search (the horizon and 28 days more) is cut to 366 days too.
    expect((await post('2026-11-23T10:00:00+01:00', '06 11 22 33 66')).statusCode).toBe(201);
    const today = { date: '2026-11-23', start: '10:00', end: '10:30', reason: 'Réunion', moveBookings: true };
    const movedToday = await postClosure(t.app, today);
    expect(movedToday.statusCode, movedToday.body).toBe(201);
    expect(movedToday.json().moved[0].to.start).toBe('2026-11-23T10:30:00+01:00');
  });
});
