import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { firstOpenInstantAtOrAfter, nextOpeningStartAfter, openIntervalAt } from './open-instants.js';
import type { Closure } from './types.js';

const SETTINGS = { pentecostMondayOpen: false };
const CLOSURES: readonly Closure[] = [
  { id: 'p', date: '2026-11-26', start: '12:00', end: '14:00', reason: 'Formation' },
];

function at(isoWithOffset: string): DateTime {
  return DateTime.fromISO(isoWithOffset, { setZone: true });
}

function iso(instant: DateTime | null | undefined): string | null {
  return instant?.toISO({ suppressMilliseconds: true }) ?? null;
}

describe('openIntervalAt', () => {
  it('finds the interval containing the instant, half-open', () => {
    const interval = openIntervalAt(at('2026-11-26T11:59:59+01:00'), SETTINGS, CLOSURES);
    expect(iso(interval?.start)).toBe('2026-11-26T08:30:00+01:00');
    expect(iso(interval?.end)).toBe('2026-11-26T12:00:00+01:00');
    expect(iso(openIntervalAt(at('2026-11-26T14:00:00+01:00'), SETTINGS, CLOSURES)?.start)).toBe(
      '2026-11-26T14:00:00+01:00',
    );
    expect(openIntervalAt(at('2026-11-26T12:00:00+01:00'), SETTINGS, CLOSURES)).toBeNull();
    expect(openIntervalAt(at('2026-11-26T18:15:00+01:00'), SETTINGS, CLOSURES)).toBeNull();
    expect(openIntervalAt(at('2026-11-28T10:00:00+01:00'), SETTINGS, CLOSURES)).toBeNull();
  });

  it('reads the instant in Paris whatever its zone', () => {
    expect(iso(openIntervalAt(at('2026-11-27T12:00:00Z'), SETTINGS, [])?.start)).toBe(
      '2026-11-27T13:00:00+01:00',
    );
  });
});

describe('firstOpenInstantAtOrAfter', () => {
  it('is the instant itself when open', () => {
    expect(iso(firstOpenInstantAtOrAfter(at('2026-11-23T10:07:13+01:00'), SETTINGS, []))).toBe(
      '2026-11-23T10:07:13+01:00',
    );
  });

  it('is the next opening otherwise: after a part-day closure, the next morning, after a weekend', () => {
    expect(iso(firstOpenInstantAtOrAfter(at('2026-11-26T12:30:00+01:00'), SETTINGS, CLOSURES))).toBe(
      '2026-11-26T14:00:00+01:00',
    );
    expect(iso(firstOpenInstantAtOrAfter(at('2026-11-24T13:00:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-25T08:30:00+01:00',
    );
    expect(iso(firstOpenInstantAtOrAfter(at('2026-11-27T17:00:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-30T08:30:00+01:00',
    );
    expect(iso(firstOpenInstantAtOrAfter(at('2026-11-27T09:00:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-27T13:00:00+01:00',
    );
  });

  it('skips holidays and crosses a DST change (Good Friday 2027 to Tuesday after Easter)', () => {
    expect(iso(firstOpenInstantAtOrAfter(at('2027-03-25T18:15:00+01:00'), SETTINGS, []))).toBe(
      '2027-03-30T08:30:00+02:00',
    );
  });

  it('gives up after maxDays', () => {
    const closures: Closure[] = Array.from({ length: 31 }, (_, i) => ({
      id: String(i),
      date: `2026-12-${String(i + 1).padStart(2, '0')}`,
      start: null,
      end: null,
      reason: 'Travaux',
    }));
    const start = at('2026-11-30T18:30:00+01:00');
    expect(firstOpenInstantAtOrAfter(start, SETTINGS, closures, 20)).toBeNull();
    expect(iso(firstOpenInstantAtOrAfter(start, SETTINGS, closures))).toBe('2027-01-04T08:30:00+01:00');
  });
});

describe('nextOpeningStartAfter', () => {
  it('is the next interval start strictly after the instant, even while open', () => {
    expect(iso(nextOpeningStartAfter(at('2026-11-23T10:00:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-24T08:30:00+01:00',
    );
    expect(iso(nextOpeningStartAfter(at('2026-11-24T08:30:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-25T08:30:00+01:00',
    );
    expect(iso(nextOpeningStartAfter(at('2026-11-26T09:00:00+01:00'), SETTINGS, CLOSURES))).toBe(
      '2026-11-26T14:00:00+01:00',
    );
    expect(iso(nextOpeningStartAfter(at('2026-11-27T16:59:00+01:00'), SETTINGS, []))).toBe(
      '2026-11-30T08:30:00+01:00',
    );
  });

  it('respects Pentecost Monday', () => {
    const friday = at('2026-05-22T17:00:00+02:00');
    expect(iso(nextOpeningStartAfter(friday, SETTINGS, []))).toBe('2026-05-26T08:30:00+02:00');
    expect(iso(nextOpeningStartAfter(friday, { pentecostMondayOpen: true }, []))).toBe(
      '2026-05-25T08:30:00+02:00',
    );
  });
});
