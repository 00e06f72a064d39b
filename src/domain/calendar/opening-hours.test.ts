import { describe, expect, it } from 'vitest';
import { addDays } from './civil-date.js';
import { daySchedule, openingHours } from './opening-hours.js';
import type { Closure, DaySchedule } from './types.js';

const CLOSED_ON_PENTECOST = { pentecostMondayOpen: false };

function closure(date: string, start: string | null, end: string | null, reason = 'Formation'): Closure {
  return { id: `${date}-${start ?? ''}-${end ?? ''}-${reason}`, date, start, end, reason };
}

/** Intervals as `HH:mm–HH:mm±offset` strings, easy to read in a failure. */
function hours(day: DaySchedule): string[] {
  return day.intervals.map((i) => `${i.start.toFormat('HH:mm')}–${i.end.toFormat('HH:mmZZ')}`);
}

describe('weekly hours (week of Monday 2026-11-23)', () => {
  const week = openingHours('2026-11-23', 7, CLOSED_ON_PENTECOST, []);

  it('opens Monday to Friday with the published hours', () => {
    expect(week.map((d) => d.date)).toEqual([
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
      '2026-11-26',
      '2026-11-27',
      '2026-11-28',
      '2026-11-29',
    ]);
    expect(week.map(hours)).toEqual([
      ['08:30–18:15+01:00'],
      ['08:30–13:00+01:00'],
      ['08:30–13:00+01:00'],
      ['08:30–18:15+01:00'],
      ['13:00–17:00+01:00'],
      [],
      [],
    ]);
    for (const day of week.slice(0, 5)) {
      expect(day).toMatchObject({ open: true, closedReason: null, label: null });
      expect(day.intervals[0]?.start.zoneName).toBe('Europe/Paris');
    }
  });

  it('closes at the weekend', () => {
    for (const day of week.slice(5)) {
      expect(day).toEqual({
        date: day.date,
        open: false,
        intervals: [],
        closedReason: 'weekend',
        label: null,
      });
    }
  });
});

describe('holidays', () => {
  it('closes on a Moselle holiday with its label', () => {
    expect(daySchedule('2026-04-03', CLOSED_ON_PENTECOST, [])).toEqual({
      date: '2026-04-03',
      open: false,
      intervals: [],
      closedReason: 'holiday',
      label: 'Vendredi saint',
    });
    expect(daySchedule('2026-12-25', CLOSED_ON_PENTECOST, [])).toMatchObject({
      open: false,
      closedReason: 'holiday',
      label: 'Noël',
    });
  });

  it('gives a holiday on a weekend as a holiday: its reason and its label agree', () => {
    expect(daySchedule('2026-12-26', CLOSED_ON_PENTECOST, [])).toMatchObject({
      open: false,
      closedReason: 'holiday',
      label: 'Saint-Étienne',
    });
    expect(daySchedule('2026-11-28', CLOSED_ON_PENTECOST, [])).toMatchObject({
      closedReason: 'weekend',
      label: null,
    });
  });

  it('closes Pentecost Monday by default and opens it on request', () => {
    expect(daySchedule('2026-05-25', CLOSED_ON_PENTECOST, [])).toMatchObject({
      open: false,
      closedReason: 'holiday',
      label: 'Lundi de Pentecôte',
    });
    const open = daySchedule('2026-05-25', { pentecostMondayOpen: true }, []);
    expect(open).toMatchObject({ open: true, closedReason: null, label: null });
    expect(hours(open)).toEqual(['08:30–18:15+02:00']);
  });
});

describe('exceptional closures', () => {
  it('splits an interval around a part-day closure, keeping the day open with the reason as label', () => {
    const day = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-23', '12:00', '14:00')]);
    expect(day).toMatchObject({ open: true, closedReason: null, label: 'Formation' });
    expect(hours(day)).toEqual(['08:30–12:00+01:00', '14:00–18:15+01:00']);
  });

  it('cuts the end or the start of the day', () => {
    const end = daySchedule('2026-11-26', CLOSED_ON_PENTECOST, [closure('2026-11-26', '16:00', '19:00')]);
    expect(hours(end)).toEqual(['08:30–16:00+01:00']);
    const start = daySchedule('2026-11-27', CLOSED_ON_PENTECOST, [closure('2026-11-27', '12:00', '14:00')]);
    expect(hours(start)).toEqual(['14:00–17:00+01:00']);
    const untilNoon = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-23', null, '12:00')]);
    expect(hours(untilNoon)).toEqual(['12:00–18:15+01:00']);
    const fromNoon = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-23', '12:00', null)]);
    expect(hours(fromNoon)).toEqual(['08:30–12:00+01:00']);
  });

  it('closes the day for closure when part-day closures leave nothing open', () => {
    const covering = daySchedule('2026-11-24', CLOSED_ON_PENTECOST, [
      closure('2026-11-24', '08:00', '13:30', 'Panne'),
    ]);
    expect(covering).toEqual({
      date: '2026-11-24',
      open: false,
      intervals: [],
      closedReason: 'closure',
      label: 'Panne',
    });
    const twoHalves = daySchedule('2026-11-27', CLOSED_ON_PENTECOST, [
      closure('2026-11-27', '13:00', '15:00', 'Grève'),
      closure('2026-11-27', '15:00', '24:00', 'Panne'),
    ]);
    expect(twoHalves).toMatchObject({ open: false, closedReason: 'closure', label: 'Grève ; Panne' });
  });

  it('closes the whole day for a whole-day closure, joining several reasons', () => {
    const day = daySchedule('2026-11-25', CLOSED_ON_PENTECOST, [
      closure('2026-11-25', null, null, 'Déménagement'),
      closure('2026-11-25', '09:00', '10:00', 'Formation'),
    ]);
    expect(day).toEqual({
      date: '2026-11-25',
      open: false,
      intervals: [],
      closedReason: 'closure',
      label: 'Déménagement ; Formation',
    });
  });

  it('keeps weekend and holiday ahead of a closure', () => {
    // A closure on a weekend closes nothing: the day stays a plain weekend.
    const weekend = daySchedule('2026-11-28', CLOSED_ON_PENTECOST, [
      closure('2026-11-28', null, null, 'Travaux'),
    ]);
    expect(weekend).toMatchObject({ open: false, closedReason: 'weekend', label: null });
    const holiday = daySchedule('2026-11-11', CLOSED_ON_PENTECOST, [
      closure('2026-11-11', null, null, 'Travaux'),
    ]);
    expect(holiday).toMatchObject({ open: false, closedReason: 'holiday', label: 'Armistice 1918' });
  });

  it('uses only the closures of the date asked', () => {
    const day = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-24', null, null)]);
    expect(day).toMatchObject({ open: true, label: null });
    expect(hours(day)).toEqual(['08:30–18:15+01:00']);
  });

  it('names the day only for closures that take some of its hours', () => {
    // Friday opens at 13:00: a morning closure changes nothing a citizen can see (an outside
    // test saw Friday published with its usual hours and the label "Matin").
    const friday = daySchedule('2026-11-27', CLOSED_ON_PENTECOST, [
      closure('2026-11-27', '08:00', '12:00', 'Matin'),
      closure('2026-11-27', '16:00', '17:30', 'Réunion'),
    ]);
    expect(friday).toMatchObject({ open: true, closedReason: null, label: 'Réunion' });
    expect(hours(friday)).toEqual(['13:00–16:00+01:00']);
    const evening = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [
      closure('2026-11-23', '18:15', '20:00', 'Soir'),
    ]);
    expect(evening).toMatchObject({ open: true, label: null });
    expect(hours(evening)).toEqual(['08:30–18:15+01:00']);
  });

  it('ignores an empty span, label included, and fails closed on a malformed time', () => {
    const empty = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-23', '14:00', '14:00')]);
    expect(hours(empty)).toEqual(['08:30–18:15+01:00']);
    expect(empty.label).toBeNull();
    const malformed = daySchedule('2026-11-23', CLOSED_ON_PENTECOST, [closure('2026-11-23', '9h', '10:00')]);
    expect(malformed).toMatchObject({ open: false, closedReason: 'closure' });
  });
});

describe('openingHours', () => {
  it('refuses an invalid date', () => {
    expect(() => openingHours('2026-02-30', 7, CLOSED_ON_PENTECOST, [])).toThrow(RangeError);
    expect(() => daySchedule('2026-13-01', CLOSED_ON_PENTECOST, [])).toThrow(RangeError);
  });

  it('computes 366 consecutive days with a year of closures', () => {
    const closures = Array.from({ length: 400 }, (_, i) =>
      closure(addDays('2028-01-01', i % 366), i % 3 === 0 ? null : '10:00', i % 3 === 0 ? null : '11:00'),
    );
    const days = openingHours('2028-01-01', 366, CLOSED_ON_PENTECOST, closures);
    expect(days).toHaveLength(366);
    expect(days[0]?.date).toBe('2028-01-01');
    expect(days[365]?.date).toBe('2028-12-31');
    days.forEach((day, i) => expect(day.date).toBe(addDays('2028-01-01', i)));
    expect(days.filter((d) => d.open).length).toBeGreaterThan(100);
  });
});
