import { describe, expect, it } from 'vitest';
import { daySchedule } from './opening-hours.js';
import { parseLocalTime } from './local-time.js';
import type { Closure, Interval } from './types.js';
import { windowsOfDay } from './windows.js';

const SETTINGS = { pentecostMondayOpen: false };

function show(window: Interval | undefined): string {
  if (window === undefined) return 'none';
  return `${window.start.toISO({ suppressMilliseconds: true }) ?? ''}/${window.end.toFormat('HH:mm:ssZZ')}`;
}

function windowsOf(date: string, slotMinutes = 30, closures: readonly Closure[] = []): Interval[] {
  return windowsOfDay(daySchedule(date, SETTINGS, closures), slotMinutes);
}

describe('windows of each weekday (SLOT 30, week of 2026-11-23)', () => {
  it('Monday: 08:30–09:00 first, 17:30–18:00 then 18:00–18:15 last', () => {
    const windows = windowsOf('2026-11-23');
    expect(windows).toHaveLength(20);
    expect(show(windows[0])).toBe('2026-11-23T08:30:00+01:00/09:00:00+01:00');
    expect(show(windows[18])).toBe('2026-11-23T17:30:00+01:00/18:00:00+01:00');
    expect(show(windows[19])).toBe('2026-11-23T18:00:00+01:00/18:15:00+01:00');
  });

  it('Tuesday and Wednesday: 08:30–09:00 first, 12:30–13:00 last', () => {
    for (const date of ['2026-11-24', '2026-11-25']) {
      const windows = windowsOf(date);
      expect(windows).toHaveLength(9);
      expect(show(windows[0])).toBe(`${date}T08:30:00+01:00/09:00:00+01:00`);
      expect(show(windows.at(-1))).toBe(`${date}T12:30:00+01:00/13:00:00+01:00`);
    }
  });

  it('Thursday: like Monday', () => {
    const windows = windowsOf('2026-11-26');
    expect(show(windows[0])).toBe('2026-11-26T08:30:00+01:00/09:00:00+01:00');
    expect(show(windows.at(-1))).toBe('2026-11-26T18:00:00+01:00/18:15:00+01:00');
  });

  it('Friday: 13:00–13:30 first, 16:30–17:00 last', () => {
    const windows = windowsOf('2026-11-27');
    expect(windows).toHaveLength(8);
    expect(show(windows[0])).toBe('2026-11-27T13:00:00+01:00/13:30:00+01:00');
    expect(show(windows.at(-1))).toBe('2026-11-27T16:30:00+01:00/17:00:00+01:00');
  });

  it('Saturday and Sunday: none', () => {
    expect(windowsOf('2026-11-28')).toEqual([]);
    expect(windowsOf('2026-11-29')).toEqual([]);
  });

  it('cuts each interval from its own start around a part-day closure', () => {
    const closure: Closure = {
      id: 'c',
      date: '2026-11-23',
      start: '12:10',
      end: '14:00',
      reason: 'Formation',
    };
    const windows = windowsOf('2026-11-23', 30, [closure]);
    const around = windows.filter((w) => w.start.hour >= 11 && w.start.hour < 15).map(show);
    expect(around).toEqual([
      '2026-11-23T11:00:00+01:00/11:30:00+01:00',
      '2026-11-23T11:30:00+01:00/12:00:00+01:00',
      '2026-11-23T12:00:00+01:00/12:10:00+01:00',
      '2026-11-23T14:00:00+01:00/14:30:00+01:00',
      '2026-11-23T14:30:00+01:00/15:00:00+01:00',
    ]);
  });

  it('handles other slot lengths, ending the last window at closing time', () => {
    const windows = windowsOf('2026-11-27', 45);
    expect(windows.map((w) => w.start.toFormat('HH:mm'))).toEqual([
      '13:00',
      '13:45',
      '14:30',
      '15:15',
      '16:00',
      '16:45',
    ]);
    expect(show(windows.at(-2))).toBe('2026-11-27T16:00:00+01:00/16:45:00+01:00');
    expect(show(windows.at(-1))).toBe('2026-11-27T16:45:00+01:00/17:00:00+01:00');
    expect(windowsOf('2026-11-27', 240).map(show)).toEqual(['2026-11-27T13:00:00+01:00/17:00:00+01:00']);
    expect(() => windowsOf('2026-11-27', 0)).toThrow(RangeError);
  });
});

describe('DST weeks', () => {
  // [Monday before, Friday before, Sunday of the change, Monday after, offset before, offset after]
  const CHANGES = [
    ['2026-03-23', '2026-03-27', '2026-03-29', '2026-03-30', '+01:00', '+02:00'],
    ['2026-10-19', '2026-10-23', '2026-10-25', '2026-10-26', '+02:00', '+01:00'],
    ['2027-03-22', '2027-03-26', '2027-03-28', '2027-03-29', '+01:00', '+02:00'],
    ['2027-10-25', '2027-10-29', '2027-10-31', '2027-11-01', '+02:00', '+01:00'],
  ] as const;

  it.each(CHANGES)(
    'offsets are right the Monday before (%s) and after',
    (before, _f, _s, after, off1, off2) => {
      expect(parseLocalTime(before, '08:30')?.toFormat('ZZ')).toBe(off1);
      expect(parseLocalTime(after, '08:30')?.toFormat('ZZ')).toBe(off2);
    },
  );

  it('2026 spring: Friday 27 March at +01:00, Monday 30 March at +02:00', () => {
    const friday = windowsOf('2026-03-27');
    expect(show(friday[0])).toBe('2026-03-27T13:00:00+01:00/13:30:00+01:00');
    expect(show(friday.at(-1))).toBe('2026-03-27T16:30:00+01:00/17:00:00+01:00');
    const monday = windowsOf('2026-03-30');
    expect(monday).toHaveLength(20);
    expect(show(monday[0])).toBe('2026-03-30T08:30:00+02:00/09:00:00+02:00');
    expect(show(monday.at(-1))).toBe('2026-03-30T18:00:00+02:00/18:15:00+02:00');
    expect(show(windowsOf('2026-03-23')[0])).toBe('2026-03-23T08:30:00+01:00/09:00:00+01:00');
  });

  it('2026 autumn: Friday 23 October at +02:00, Monday 26 October at +01:00', () => {
    const friday = windowsOf('2026-10-23');
    expect(show(friday[0])).toBe('2026-10-23T13:00:00+02:00/13:30:00+02:00');
    expect(show(friday.at(-1))).toBe('2026-10-23T16:30:00+02:00/17:00:00+02:00');
    const monday = windowsOf('2026-10-26');
    expect(show(monday[0])).toBe('2026-10-26T08:30:00+01:00/09:00:00+01:00');
    expect(show(monday.at(-1))).toBe('2026-10-26T18:00:00+01:00/18:15:00+01:00');
    expect(show(windowsOf('2026-10-19')[0])).toBe('2026-10-19T08:30:00+02:00/09:00:00+02:00');
  });

  it('2027 spring: Good Friday and Easter Monday frame the change, both closed', () => {
    expect(windowsOf('2027-03-26')).toEqual([]);
    expect(windowsOf('2027-03-29')).toEqual([]);
    expect(daySchedule('2027-03-29', SETTINGS, []).label).toBe('Lundi de Pâques');
    expect(show(windowsOf('2027-03-25').at(-1))).toBe('2027-03-25T18:00:00+01:00/18:15:00+01:00');
    expect(show(windowsOf('2027-03-30')[0])).toBe('2027-03-30T08:30:00+02:00/09:00:00+02:00');
    expect(show(windowsOf('2027-03-22')[0])).toBe('2027-03-22T08:30:00+01:00/09:00:00+01:00');
  });

  it('2027 autumn: Friday 29 October at +02:00, Monday 1 November closed (Toussaint), Tuesday at +01:00', () => {
    const friday = windowsOf('2027-10-29');
    expect(show(friday[0])).toBe('2027-10-29T13:00:00+02:00/13:30:00+02:00');
    expect(show(friday.at(-1))).toBe('2027-10-29T16:30:00+02:00/17:00:00+02:00');
    expect(windowsOf('2027-11-01')).toEqual([]);
    expect(daySchedule('2027-11-01', SETTINGS, []).closedReason).toBe('holiday');
    expect(show(windowsOf('2027-11-02')[0])).toBe('2027-11-02T08:30:00+01:00/09:00:00+01:00');
    expect(show(windowsOf('2027-10-25').at(-1))).toBe('2027-10-25T18:00:00+02:00/18:15:00+02:00');
  });
});
