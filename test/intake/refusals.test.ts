import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import {
  addClosure,
  bookableSlots,
  expectNextSlots,
  expectProblem,
  intakeFixture,
  paris,
  postCallback,
  rowCounts,
} from './support.js';

const f = intakeFixture();

/** Sends a refused booking and checks that nothing at all was written for it. */
async function refused(app: Parameters<typeof postCallback>[0], body: Record<string, unknown>, code: string) {
  const before = await rowCounts(f.sql);
  const res = await postCallback(app, body);
  const problem = expectProblem(res, code);
  expect(await rowCounts(f.sql)).toEqual(before);
  return problem;
}

describe('POST /v1/callbacks refusals, one per contract code', () => {
  it('VALIDATION_ERROR for bodies that do not match the schema', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const { consent: _consent, ...noConsent } = booking();
    const { slotStart: _slot, ...slotWithoutStart } = booking();
    const bad: Record<string, unknown>[] = [
      noConsent,
      booking({ consent: false }),
      booking({ domain: 'sante' }),
      booking({ mode: 'later' }),
      slotWithoutStart,
      booking({ slotStart: 'lundi 9h' }),
      // Date-times the format admits but the calendar cannot read (they answered 500).
      booking({ slotStart: '2026-11-23 09:00:00+01:00' }),
      booking({ slotStart: '2026-11-23T23:59:60Z' }),
      booking({ slotStart: '0000-11-23T09:00:00+01:00' }),
      // Before 1583 the calendar has no holidays to read (they answered 500), nor after 9999 in Paris.
      booking({ slotStart: '1582-12-31T23:50:38Z' }),
      booking({ slotStart: '1200-06-01T10:00:00+01:00' }),
      booking({ slotStart: '9999-12-31T23:59:00-02:00' }),
      booking({ ficheId: 'X1234' }),
      booking({ subject: 'x'.repeat(501) }),
      booking({ phone: '' }),
      booking({ slotStart: null }),
      booking({ extra: 'field' }),
    ];
    for (const body of bad) await refused(t.app, body, 'VALIDATION_ERROR');
    // The limits themselves are allowed.
    expect((await postCallback(t.app, booking({ subject: 'x'.repeat(500) }))).statusCode).toBe(201);
    // ISO 8601 leaves the seconds out at will (RFC 3339 does not); other zones name the same instant.
    for (const slotStart of [
      '2026-11-23T09:30+01:00',
      '2026-11-23T09:00Z',
      '2026-11-23T10:30:00.000+01:00',
    ]) {
      const res = await postCallback(t.app, booking({ slotStart }));
      expect(res.statusCode, `${slotStart}: ${res.body}`).toBe(201);
      expect(Date.parse(res.json().window.start)).toBe(Date.parse(slotStart));
    }
    for (const slotStart of ['2026-11-23T09+01:00', '2026-11-23T09:30', '2026-11-23T24:00+01:00'])
      await refused(t.app, booking({ slotStart }), 'VALIDATION_ERROR');
  });

  it('VALIDATION_ERROR for values of the wrong JSON type: they are not coerced', async () => {
    // `consent` must be the JSON value true: a string or a number is not a consent.
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    for (const body of [
      booking({ consent: 'true' }),
      booking({ consent: 1 }),
      booking({ phone: 612345678 }),
      booking({ subject: 42 }),
      booking({ phone: ['0612345678'] }),
    ]) {
      await refused(t.app, body, 'VALIDATION_ERROR');
    }
  });

  it('INVALID_PHONE for numbers that cannot be called back', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    for (const phone of [
      '0899 12 34 56',
      '3939',
      '06 12 34 56',
      '+44 20 7946 0958',
      '06 12 34 56 78 ext 2',
    ]) {
      const problem = await refused(t.app, booking({ phone }), 'INVALID_PHONE');
      expect(problem.detail).not.toContain(phone);
    }
  });

  it('CENTRE_CLOSED with reason weekend, holiday (Moselle rules included) and closure', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T08:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    const saturday = await refused(
      t.app,
      booking({ slotStart: '2026-11-28T09:00:00+01:00' }),
      'CENTRE_CLOSED',
    );
    expect(saturday.reason).toBe('weekend');
    expect(saturday).not.toHaveProperty('label'); // a plain weekend has none
    await expectNextSlots(t.app, saturday);

    await addClosure(f.sql, '2026-11-25');
    const closed = await refused(t.app, booking({ slotStart: '2026-11-25T09:00:00+01:00' }), 'CENTRE_CLOSED');
    expect(closed.reason).toBe('closure');
    expect(closed.label).toBe('Inventaire'); // the closure's reason, as /v1/opening-hours names it
    await expectNextSlots(t.app, closed);

    // A part-day closure closes only its span: 10:00 is refused, 11:00 is not.
    await addClosure(f.sql, '2026-11-26', { start: '10:00', end: '11:00' });
    const part = await refused(t.app, booking({ slotStart: '2026-11-26T10:00:00+01:00' }), 'CENTRE_CLOSED');
    expect(part.reason).toBe('closure');
    expect(part.label).toBe('Inventaire');
    expect((await postCallback(t.app, booking({ slotStart: '2026-11-26T11:00:00+01:00' }))).statusCode).toBe(
      201,
    );

    t.clock.set(paris('2026-12-21T08:00:00+01:00'));
    const christmas = await refused(
      t.app,
      booking({ slotStart: '2026-12-25T14:00:00+01:00' }),
      'CENTRE_CLOSED',
    );
    expect(christmas.reason).toBe('holiday');
    expect(christmas.label).toBe('Noël');
    // 26 December is a holiday in Moselle (a Saturday in 2026: take 2025's, a Friday).
    t.clock.set(paris('2025-12-22T08:00:00+01:00'));
    const stEtienne = await refused(
      t.app,
      booking({ slotStart: '2025-12-26T14:00:00+01:00' }),
      'CENTRE_CLOSED',
    );
    expect(stEtienne.reason).toBe('holiday');
    expect(stEtienne.label).toBe('Saint-Étienne');
    t.clock.set(paris('2027-03-22T08:00:00+01:00'));
    const goodFriday = await refused(
      t.app,
      booking({ slotStart: '2027-03-26T14:00:00+01:00' }),
      'CENTRE_CLOSED',
    );
    expect(goodFriday.reason).toBe('holiday');
  });

  it('OUTSIDE_OPENING_HOURS on an open day at a closed time; the short last window is bookable', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    for (const slotStart of [
      '2026-11-24T14:00:00+01:00', // Tuesday afternoon
      '2026-11-23T18:15:00+01:00', // Monday, closing time itself (half-open)
      '2026-11-27T09:00:00+01:00', // Friday morning
    ]) {
      const problem = await refused(t.app, booking({ slotStart }), 'OUTSIDE_OPENING_HOURS');
      await expectNextSlots(t.app, problem);
    }
    const res = await postCallback(t.app, booking({ slotStart: '2026-11-23T18:00:00+01:00' }));
    expect(res.statusCode).toBe(201);
    expect(res.json().window).toEqual({
      start: '2026-11-23T18:00:00+01:00',
      end: '2026-11-23T18:15:00+01:00',
    });
  });

  it('SLOT_NOT_AVAILABLE with reason not_window_start, past, too_soon and beyond_horizon', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    const cases: [string, string][] = [
      ['2026-11-23T11:10:00+01:00', 'not_window_start'],
      ['2026-11-23T09:00:00+01:00', 'past'],
      ['2026-11-23T10:00:00+01:00', 'too_soon'], // starts now: not past, but without notice
      ['2026-11-23T10:00:00.000+01:00', 'too_soon'],
      // Below the millisecond luxon keeps: 11:00 and a tenth of a microsecond is no window start.
      ['2026-11-23T11:00:00.0000001+01:00', 'not_window_start'],
      ['2026-11-23T11:00:00.0001+01:00', 'not_window_start'],
      ['2026-11-23t11:00:00.0000001+01:00', 'not_window_start'], // the schema takes a lowercase t
      // Past the 30 digits of a fraction luxon reads (a 400 before): read to the nanosecond, the
      // digit past it still seen.
      [`2026-11-23T11:00:00.${'0'.repeat(40)}1+01:00`, 'not_window_start'],
      ['2026-12-08T09:00:00+01:00', 'beyond_horizon'], // today + 15 days
    ];
    for (const [slotStart, reason] of cases) {
      const problem = await refused(t.app, booking({ slotStart }), 'SLOT_NOT_AVAILABLE');
      expect(problem.reason, slotStart).toBe(reason);
      await expectNextSlots(t.app, problem, { refused: slotStart });
    }
    // The same instant written in UTC is the same window start (09:00 Paris).
    t.clock.set(paris('2026-11-23T08:50:00+01:00'));
    const utc = await refused(t.app, booking({ slotStart: '2026-11-23T08:00:00Z' }), 'SLOT_NOT_AVAILABLE');
    expect(utc.reason).toBe('too_soon');
    t.clock.set(paris('2026-11-23T08:45:00+01:00'));
    const ok = await postCallback(t.app, booking({ slotStart: '2026-11-23T08:00:00Z' }));
    expect(ok.statusCode).toBe(201);
    expect(ok.json().window.start).toBe('2026-11-23T09:00:00+01:00');
    // Zeros below the millisecond write the window start itself.
    const zeros = await postCallback(
      t.app,
      booking({ slotStart: '2026-11-23T09:30:00.0000000+01:00', phone: '06 12 34 56 00' }),
    );
    expect(zeros.statusCode).toBe(201);
    expect(zeros.json().window.start).toBe('2026-11-23T09:30:00+01:00');
    const manyZeros = await postCallback(
      t.app,
      booking({ slotStart: `2026-11-23T10:30:00.${'0'.repeat(40)}+01:00`, phone: '06 12 34 56 01' }),
    );
    expect(manyZeros.statusCode, manyZeros.body).toBe(201);
    expect(manyZeros.json().window.start).toBe('2026-11-23T10:30:00+01:00');
    // ISO 8601's other offset writings (basic, hours only) are the same instant.
    for (const [slotStart, phone] of [
      ['2026-11-23T11:00:00+0100', '06 12 34 56 02'],
      ['2026-11-23T11:30+01', '06 12 34 56 03'],
    ] as const) {
      const other = await postCallback(t.app, booking({ slotStart, phone }));
      expect(other.statusCode, `${slotStart} ${other.body}`).toBe(201);
      expect(other.json().window.start).toBe(slotStart.slice(0, 16) + ':00+01:00');
    }
  });

  it('the notice and the horizon are inclusive at their edge', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T08:45:00+01:00' });
    await createAgent(t.app, ['travail']);
    // 09:00 is exactly MIN_NOTICE_MINUTES (15) away; 2026-12-07 is exactly today + 14 days.
    expect((await postCallback(t.app, booking({ slotStart: '2026-11-23T09:00:00+01:00' }))).statusCode).toBe(
      201,
    );
    expect((await postCallback(t.app, booking({ slotStart: '2026-12-07T18:00:00+01:00' }))).statusCode).toBe(
      201,
    );
    t.clock.advance({ seconds: 1 });
    const soon = await refused(
      t.app,
      booking({ slotStart: '2026-11-23T09:00:00+01:00' }),
      'SLOT_NOT_AVAILABLE',
    );
    expect(soon.reason).toBe('too_soon');
    const far = await refused(
      t.app,
      booking({ slotStart: '2026-12-08T09:00:00+01:00' }),
      'SLOT_NOT_AVAILABLE',
    );
    expect(far.reason).toBe('beyond_horizon');
  });

  it('DUPLICATE_REQUEST for a second active callback of the same phone and domain', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail', 'logement']);
    const first = booking();
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    const dup = await refused(
      t.app,
      booking({ phone: first.phone, slotStart: '2026-11-23T10:00:00+01:00' }),
      'DUPLICATE_REQUEST',
    );
    expect(dup.detail).not.toContain(String(first.phone));
    // Another domain is another request.
    expect((await postCallback(t.app, booking({ phone: first.phone, domain: 'logement' }))).statusCode).toBe(
      201,
    );
  });

  it('SLOT_FULL once a window holds its capacity, with bookable nextSlots', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const start = '2026-11-23T09:00:00+01:00';
    expect((await postCallback(t.app, booking({ slotStart: start }))).statusCode).toBe(201);
    expect((await bookableSlots(t.app)).map((s) => s.start)).not.toContain(start);
    const full = await refused(t.app, booking({ slotStart: start }), 'SLOT_FULL');
    await expectNextSlots(t.app, full, { refused: start });
    expect((full.nextSlots as { start: string }[])[0]).toEqual({
      start: '2026-11-23T08:30:00+01:00',
      end: '2026-11-23T09:00:00+01:00',
    });
  });

  it('SLOT_FULL when no informateur covers the domain: capacity is zero, nextSlots empty', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const problem = await refused(t.app, booking({ domain: 'justice' }), 'SLOT_FULL');
    await expectNextSlots(t.app, problem, { domain: 'justice', expectSome: false });
    expect(problem.nextSlots).toEqual([]);
  });
});
