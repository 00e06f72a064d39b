import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { bookableWindows, checkSlotStart } from './bookable.js';
import type { CalendarSettings, Closure, SlotCheck } from './types.js';

const SETTINGS: CalendarSettings = {
  slotMinutes: 30,
  pentecostMondayOpen: false,
  bookingHorizonDays: 14,
  minNoticeMinutes: 15,
};

const CLOSURES: readonly Closure[] = [
  { id: 'w', date: '2026-11-25', start: null, end: null, reason: 'Déménagement' },
  { id: 'p', date: '2026-11-26', start: '12:00', end: '14:00', reason: 'Formation' },
  { id: 'e', date: '2026-11-30', start: '19:00', end: '20:00', reason: 'Maintenance' },
];

/** Monday 2026-11-23, 10:20 in Metz. */
const NOW = DateTime.fromISO('2026-11-23T10:20:00+01:00');

function at(isoWithOffset: string): DateTime {
  return DateTime.fromISO(isoWithOffset, { setZone: true });
}

function check(isoWithOffset: string, now: DateTime = NOW, settings = SETTINGS): SlotCheck {
  return checkSlotStart(at(isoWithOffset), now, settings, CLOSURES);
}

function iso(instant: DateTime): string {
  return instant.toISO({ suppressMilliseconds: true }) ?? '';
}

describe('checkSlotStart', () => {
  it('accepts a window start and returns the window in Paris time', () => {
    const result = check('2026-11-24T08:30:00+01:00');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(iso(result.window.start)).toBe('2026-11-24T08:30:00+01:00');
    expect(iso(result.window.end)).toBe('2026-11-24T09:00:00+01:00');
    expect(result.window.start.zoneName).toBe('Europe/Paris');
  });

  it('accepts the same instant written in UTC, and the short last window', () => {
    const utc = checkSlotStart(
      DateTime.fromISO('2026-11-24T07:30:00Z', { zone: 'utc' }),
      NOW,
      SETTINGS,
      CLOSURES,
    );
    expect(utc.ok && iso(utc.window.start)).toBe('2026-11-24T08:30:00+01:00');
    const last = check('2026-11-23T18:00:00+01:00');
    expect(last.ok && iso(last.window.end)).toBe('2026-11-23T18:15:00+01:00');
  });

  it('CENTRE_CLOSED for a weekend, a holiday, a whole-day closure', () => {
    expect(check('2026-11-28T10:00:00+01:00')).toEqual({
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'weekend',
      label: null,
    });
    expect(check('2026-12-25T13:00:00+01:00')).toEqual({
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'holiday',
      label: 'Noël',
    });
    expect(check('2026-11-25T09:00:00+01:00')).toEqual({
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'closure',
      label: 'Déménagement',
    });
  });

  it('CENTRE_CLOSED for an instant inside a part-day closure, which ends at its end', () => {
    expect(check('2026-11-26T12:00:00+01:00')).toEqual({
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'closure',
      label: 'Formation',
    });
    expect(check('2026-11-26T13:59:00+01:00')).toEqual({
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'closure',
      label: 'Formation',
    });
    expect(check('2026-11-26T14:00:00+01:00').ok).toBe(true);
    // Two closures over one instant: both named, as the day's label names them.
    const both = [
      ...CLOSURES,
      { id: 'q', date: '2026-11-26', start: '13:00', end: '15:00', reason: 'Panne' },
    ];
    expect(checkSlotStart(DateTime.fromISO('2026-11-26T13:30:00+01:00'), NOW, SETTINGS, both)).toMatchObject({
      code: 'CENTRE_CLOSED',
      label: 'Formation ; Panne',
    });
    expect(check('2026-11-26T11:30:00+01:00').ok).toBe(true);
  });

  it('OUTSIDE_OPENING_HOURS on an open day, at closing time included', () => {
    const outside = { ok: false, code: 'OUTSIDE_OPENING_HOURS' };
    expect(check('2026-11-24T14:00:00+01:00')).toEqual(outside);
    expect(check('2026-11-26T08:00:00+01:00')).toEqual(outside);
    expect(check('2026-11-26T18:15:00+01:00')).toEqual(outside);
    expect(check('2026-11-27T12:30:00+01:00')).toEqual(outside);
  });

  it('SLOT_NOT_AVAILABLE not_window_start, to the minute and to the second', () => {
    const notStart = { ok: false, code: 'SLOT_NOT_AVAILABLE', reason: 'not_window_start' };
    expect(check('2026-11-24T09:10:00+01:00')).toEqual(notStart);
    expect(check('2026-11-24T09:00:30+01:00')).toEqual(notStart);
    expect(check('2026-11-23T18:10:00+01:00')).toEqual(notStart);
  });

  it('SLOT_NOT_AVAILABLE past, too_soon, beyond_horizon', () => {
    expect(check('2026-11-23T09:00:00+01:00')).toEqual({
      ok: false,
      code: 'SLOT_NOT_AVAILABLE',
      reason: 'past',
    });
    expect(check('2026-11-23T10:00:00+01:00')).toEqual({
      ok: false,
      code: 'SLOT_NOT_AVAILABLE',
      reason: 'past',
    });
    expect(check('2026-11-23T10:30:00+01:00')).toEqual({
      ok: false,
      code: 'SLOT_NOT_AVAILABLE',
      reason: 'too_soon',
    });
    expect(check('2026-11-23T11:00:00+01:00').ok).toBe(true);
    // Today is 2026-11-23: the horizon's last date is 2026-12-07, a Monday.
    expect(check('2026-12-07T18:00:00+01:00').ok).toBe(true);
    expect(check('2026-12-08T08:30:00+01:00')).toEqual({
      ok: false,
      code: 'SLOT_NOT_AVAILABLE',
      reason: 'beyond_horizon',
    });
  });

  it('takes the notice to the millisecond: exactly now + notice is bookable', () => {
    expect(check('2026-11-23T10:30:00+01:00', at('2026-11-23T10:15:00+01:00')).ok).toBe(true);
    expect(check('2026-11-23T10:30:00+01:00', at('2026-11-23T10:15:00.001+01:00'))).toMatchObject({
      reason: 'too_soon',
    });
  });

  it('checks in the contract order', () => {
    // A holiday is a holiday even on a weekend: 1 May 2027 is a Saturday.
    expect(check('2027-05-01T10:00:00+02:00')).toMatchObject({ code: 'CENTRE_CLOSED', reason: 'holiday' });
    // Closed day before everything else, even a past, odd instant.
    expect(check('2026-11-22T10:07:00+01:00')).toMatchObject({ code: 'CENTRE_CLOSED', reason: 'weekend' });
    // A part-day closure before opening hours, even outside the weekly hours.
    expect(check('2026-11-30T19:30:00+01:00')).toMatchObject({ code: 'CENTRE_CLOSED', reason: 'closure' });
    expect(check('2026-11-30T18:30:00+01:00')).toEqual({ ok: false, code: 'OUTSIDE_OPENING_HOURS' });
    // Outside hours before not_window_start and past.
    expect(check('2026-11-23T08:07:00+01:00')).toEqual({ ok: false, code: 'OUTSIDE_OPENING_HOURS' });
    // not_window_start before past.
    expect(check('2026-11-23T09:10:00+01:00')).toMatchObject({ reason: 'not_window_start' });
    // past before too_soon (a notice of a day makes any past window too soon as well).
    expect(check('2026-11-23T09:00:00+01:00', NOW, { ...SETTINGS, minNoticeMinutes: 1440 })).toMatchObject({
      reason: 'past',
    });
    // too_soon before beyond_horizon.
    const tight = { ...SETTINGS, bookingHorizonDays: 0, minNoticeMinutes: 1440 };
    expect(check('2026-11-24T08:30:00+01:00', NOW, tight)).toMatchObject({ reason: 'too_soon' });
    expect(check('2026-11-24T12:30:00+01:00', NOW, tight)).toMatchObject({ reason: 'beyond_horizon' });
  });
});

describe('bookableWindows', () => {
  it('lists the time-bookable windows in time order from now + notice to the horizon', () => {
    const windows = bookableWindows('2026-11-23', 30, NOW, SETTINGS, CLOSURES);
    expect(iso(windows[0]?.start ?? NOW)).toBe('2026-11-23T11:00:00+01:00');
    expect(iso(windows.at(-1)?.start ?? NOW)).toBe('2026-12-07T18:00:00+01:00');
    const millis = windows.map((w) => w.start.toMillis());
    expect(millis).toEqual([...millis].sort((a, b) => a - b));
    expect(windows.some((w) => w.start.toISODate() === '2026-11-25')).toBe(false);
    const thursday = windows
      .filter((w) => w.start.toISODate() === '2026-11-26')
      .map((w) => w.start.toFormat('HH:mm'));
    expect(thursday).toContain('11:30');
    expect(thursday).not.toContain('12:00');
    expect(thursday).toContain('14:00');
  });

  it('is empty for no days, and refuses an invalid date', () => {
    expect(bookableWindows('2026-11-23', 0, NOW, SETTINGS, [])).toEqual([]);
    expect(() => bookableWindows('2026-11-31', 3, NOW, SETTINGS, [])).toThrow(RangeError);
  });

  describe('across a DST weekend, now on the Friday', () => {
    function firstTwo(from: string, now: string): string[] {
      return bookableWindows(from, 6, at(now), SETTINGS, [])
        .slice(0, 2)
        .map((w) => `${iso(w.start)}/${w.end.toFormat('HH:mmZZ')}`);
    }

    it('2026 spring', () => {
      expect(firstTwo('2026-03-27', '2026-03-27T16:10:00+01:00')).toEqual([
        '2026-03-27T16:30:00+01:00/17:00+01:00',
        '2026-03-30T08:30:00+02:00/09:00+02:00',
      ]);
      expect(firstTwo('2026-03-27', '2026-03-27T16:20:00+01:00')[0]).toBe(
        '2026-03-30T08:30:00+02:00/09:00+02:00',
      );
    });

    it('2026 autumn', () => {
      expect(firstTwo('2026-10-23', '2026-10-23T16:10:00+02:00')).toEqual([
        '2026-10-23T16:30:00+02:00/17:00+02:00',
        '2026-10-26T08:30:00+01:00/09:00+01:00',
      ]);
    });

    it('2027 spring (Good Friday and Easter Monday closed)', () => {
      expect(firstTwo('2027-03-26', '2027-03-26T10:00:00+01:00')).toEqual([
        '2027-03-30T08:30:00+02:00/09:00+02:00',
        '2027-03-30T09:00:00+02:00/09:30+02:00',
      ]);
    });

    it('2027 autumn (Monday 1 November closed)', () => {
      expect(firstTwo('2027-10-29', '2027-10-29T16:10:00+02:00')).toEqual([
        '2027-10-29T16:30:00+02:00/17:00+02:00',
        '2027-11-02T08:30:00+01:00/09:00+01:00',
      ]);
    });
  });
});
