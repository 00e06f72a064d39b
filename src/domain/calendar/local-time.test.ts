import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addDays, fromEpochDay, isValidDate, toEpochDay, weekdayOf } from './civil-date.js';
import { parseLocalTime, todayIn } from './local-time.js';
import { ZONE } from './types.js';

function iso(instant: DateTime | null): string | null {
  return instant === null ? null : instant.toISO({ suppressMilliseconds: true });
}

describe('parseLocalTime', () => {
  it('accepts ordinary times, in Paris', () => {
    expect(iso(parseLocalTime('2026-11-23', '08:30'))).toBe('2026-11-23T08:30:00+01:00');
    expect(iso(parseLocalTime('2026-07-14', '00:00'))).toBe('2026-07-14T00:00:00+02:00');
    expect(iso(parseLocalTime('2026-12-31', '23:59'))).toBe('2026-12-31T23:59:00+01:00');
    expect(parseLocalTime('2026-11-23', '08:30')?.zoneName).toBe(ZONE);
  });

  it('refuses a time in the spring-forward gap', () => {
    expect(parseLocalTime('2026-03-29', '02:30')).toBeNull();
    expect(parseLocalTime('2026-03-29', '02:00')).toBeNull();
    expect(parseLocalTime('2027-03-28', '02:59')).toBeNull();
    expect(iso(parseLocalTime('2026-03-29', '01:59'))).toBe('2026-03-29T01:59:00+01:00');
    expect(iso(parseLocalTime('2026-03-29', '03:00'))).toBe('2026-03-29T03:00:00+02:00');
  });

  it('refuses a time of the fall-back hour, which happens twice', () => {
    expect(parseLocalTime('2026-10-25', '02:30')).toBeNull();
    expect(parseLocalTime('2026-10-25', '02:00')).toBeNull();
    expect(parseLocalTime('2027-10-31', '02:59')).toBeNull();
    expect(iso(parseLocalTime('2026-10-25', '01:59'))).toBe('2026-10-25T01:59:00+02:00');
    expect(iso(parseLocalTime('2026-10-25', '03:00'))).toBe('2026-10-25T03:00:00+01:00');
    expect(iso(parseLocalTime('2026-10-25', '03:30'))).toBe('2026-10-25T03:30:00+01:00');
  });

  it('refuses malformed times and dates', () => {
    for (const hhmm of ['24:00', '9:5', '09:5', '9:05', '08:60', '0830', '08:30:00', ' 08:30', '', '-1:00']) {
      expect(parseLocalTime('2026-11-23', hhmm), hhmm).toBeNull();
    }
    for (const date of ['2026-02-30', '2026-13-01', '2026-1-05', '26-01-05', '2026-11-23T00:00', '']) {
      expect(parseLocalTime(date, '08:30'), date).toBeNull();
    }
  });
});

describe('isValidDate', () => {
  it('accepts strict dates that exist', () => {
    for (const date of ['2026-11-23', '2024-02-29', '2000-02-29', '2100-12-31'])
      expect(isValidDate(date)).toBe(true);
  });

  it('refuses anything else', () => {
    for (const date of ['2026-02-29', '2100-02-29', '2026-02-30', '2026-04-31', '2026-00-10', '2026-01-00']) {
      expect(isValidDate(date), date).toBe(false);
    }
    for (const date of ['2026-1-1', '20260101', '2026/01/01', '2026-01-01 ', '2026-01-01T00:00', 'x']) {
      expect(isValidDate(date), date).toBe(false);
    }
  });
});

describe('todayIn', () => {
  it('is the Paris date of the instant, whatever its zone', () => {
    expect(todayIn(DateTime.fromISO('2026-11-23T23:30:00Z'))).toBe('2026-11-24');
    expect(todayIn(DateTime.fromISO('2026-07-01T21:59:00Z'))).toBe('2026-07-01');
    expect(todayIn(DateTime.fromISO('2026-07-01T22:00:00Z'))).toBe('2026-07-02');
  });

  it('refuses an invalid DateTime', () => {
    expect(() => todayIn(DateTime.invalid('test'))).toThrow(RangeError);
  });
});

describe('civil dates', () => {
  it('steps days and weekdays like Luxon does, 1900 to 2150', () => {
    const mismatches: string[] = [];
    let date = '1900-01-01';
    for (let epochDay = -25_567; epochDay < 65_000; epochDay += 1) {
      const luxon = DateTime.fromMillis(epochDay * 86_400_000, { zone: 'utc' });
      const parts = fromEpochDay(epochDay);
      if (
        date !== luxon.toISODate() ||
        toEpochDay(parts) !== epochDay ||
        weekdayOf(parts) !== luxon.weekday
      ) {
        mismatches.push(date);
      }
      date = addDays(date, 1);
    }
    expect(mismatches).toEqual([]);
    expect(date).toBe('2147-12-19');
  });
});
