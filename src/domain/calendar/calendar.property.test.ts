import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addDays, formatDate, fromEpochDay, requireDate, toEpochDay, weekdayOf } from './civil-date.js';
import {
  ZONE,
  bookableWindows,
  checkSlotStart,
  firstOpenInstantAtOrAfter,
  holidaysOfYear,
  nextOpeningStartAfter,
  openIntervalAt,
  openingHours,
  todayIn,
  windowsOfDay,
  type CalendarSettings,
  type Closure,
  type DaySchedule,
  type Interval,
} from './index.js';

const FIRST_DAY = toEpochDay({ year: 2000, month: 1, day: 1 });
const LAST_DAY = toEpochDay({ year: 2100, month: 12, day: 31 });
const SPAN_DAYS = 16;
const NUM_RUNS = 300;

/** The published weekly hours, restated here as an oracle (minutes since midnight, by ISO weekday). */
const WEEKLY: Record<number, readonly (readonly [number, number])[]> = {
  1: [[510, 1095]],
  2: [[510, 780]],
  3: [[510, 780]],
  4: [[510, 1095]],
  5: [[780, 1020]],
  6: [],
  7: [],
};

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** A base date, closures on the SPAN_DAYS dates from it, and settings. */
const scenario = fc.integer({ min: FIRST_DAY, max: LAST_DAY - SPAN_DAYS }).chain((baseDay) =>
  fc.record({
    from: fc.constant(formatDate(fromEpochDay(baseDay))),
    closures: fc.array(
      fc
        .record({
          offset: fc.integer({ min: 0, max: SPAN_DAYS }),
          kind: fc.constantFrom('whole', 'part', 'part', 'part', 'from-midnight', 'to-midnight'),
          a: fc.integer({ min: 0, max: 1439 }),
          b: fc.integer({ min: 1, max: 1440 }),
          reason: fc.constantFrom('Formation', 'Panne', 'Grève'),
        })
        .map(({ offset, kind, a, b, reason }): Closure => {
          const date = formatDate(fromEpochDay(baseDay + offset));
          const start = kind === 'whole' || kind === 'from-midnight' ? null : hhmm(a);
          const end = kind === 'whole' || kind === 'to-midnight' ? null : hhmm(b);
          return { id: `${date}/${String(a)}/${String(b)}`, date, start, end, reason };
        }),
      { maxLength: 8 },
    ),
    settings: fc.record({
      slotMinutes: fc.constantFrom(5, 10, 15, 20, 25, 30, 45, 60, 90),
      pentecostMondayOpen: fc.boolean(),
      bookingHorizonDays: fc.integer({ min: 0, max: 20 }),
      minNoticeMinutes: fc.integer({ min: 0, max: 3 * 1440 }),
    }),
    days: fc.integer({ min: 1, max: SPAN_DAYS }),
    // An instant from two days before the base date to the end of the span, to the millisecond.
    instant: fc
      .integer({ min: -2 * 86_400_000, max: SPAN_DAYS * 86_400_000 })
      .map((ms) => DateTime.fromMillis(baseDay * 86_400_000 + ms, { zone: ZONE })),
    roundInstant: fc.boolean(),
  }),
);

/** Closed minutes of a date by the closures, computed independently of the code under test. */
function closedMinutes(date: string, closures: readonly Closure[]): boolean[] {
  const closed = new Array<boolean>(1440).fill(false);
  for (const c of closures.filter((x) => x.date === date)) {
    const from = c.start === null ? 0 : Number(c.start.slice(0, 2)) * 60 + Number(c.start.slice(3));
    const to = c.end === null ? 1440 : Number(c.end.slice(0, 2)) * 60 + Number(c.end.slice(3));
    for (let m = from; m < to; m += 1) closed[m] = true;
  }
  return closed;
}

/** Wall minutes of an instant already in ZONE (the calendar hands out DateTimes in ZONE). */
function wallOf(instant: DateTime): number {
  return instant.hour * 60 + instant.minute + (instant.second * 1000 + instant.millisecond) / 60_000;
}

/**
 * What is wrong with one day's schedule and windows, checked against an independent oracle. Plain
 * checks collected into a list (one `expect` per property run keeps 300 runs fast).
 */
function dayProblems(day: DaySchedule, settings: CalendarSettings, closures: readonly Closure[]): string[] {
  const problems: string[] = [];
  const fail = (what: string): void => void problems.push(`${day.date}: ${what}`);
  const parts = requireDate(day.date);
  const weekday = weekdayOf(parts);
  const holiday = holidaysOfYear(parts.year, settings).has(day.date);
  const wholeDayClosure = closures.some((c) => c.date === day.date && c.start === null && c.end === null);
  if (day.open !== day.intervals.length > 0) fail('open does not match intervals');
  if (holiday && day.closedReason !== 'holiday') fail('holiday not closed for holiday');
  if (weekday >= 6 && !holiday && day.closedReason !== 'weekend') fail('weekend not closed for weekend');
  if (weekday < 6 && !holiday && wholeDayClosure && day.closedReason !== 'closure')
    fail('closure not closed');
  if (day.open && day.closedReason !== null) fail('open day with a closed reason');

  // Minute by minute: open iff inside the weekly hours, not a holiday, not in a closure.
  const closed = closedMinutes(day.date, closures);
  const expectedOpen = new Array<boolean>(1440).fill(false);
  if (!holiday) {
    for (const [a, b] of WEEKLY[weekday] ?? []) for (let m = a; m < b; m += 1) expectedOpen[m] = !closed[m];
  }
  const actualOpen = new Array<boolean>(1440).fill(false);
  for (const interval of day.intervals) {
    if (interval.start.zoneName !== ZONE || interval.end.zoneName !== ZONE) fail('interval not in ZONE');
    if (interval.start.toISODate() !== day.date || interval.end.toISODate() !== day.date)
      fail('interval off date');
    for (let m = wallOf(interval.start); m < wallOf(interval.end); m += 1) actualOpen[m] = true;
  }
  for (let m = 0; m < 1440; m += 1) if (actualOpen[m] !== expectedOpen[m]) fail(`minute ${String(m)} wrong`);

  // Windows tile each interval: from its start, back to back, slot long but the last; none in a closure.
  const slotMillis = settings.slotMinutes * 60_000;
  const windows = windowsOfDay(day, settings.slotMinutes);
  let w = 0;
  for (const interval of day.intervals) {
    let cursor = interval.start.toMillis();
    const end = interval.end.toMillis();
    while (cursor < end) {
      const window = windows[w];
      w += 1;
      if (window === undefined) return [...problems, `${day.date}: missing window`];
      const length = window.end.toMillis() - cursor;
      if (window.start.toMillis() !== cursor) fail('gap or overlap between windows');
      if (length <= 0 || length > slotMillis) fail('window length out of range');
      if (window.end.toMillis() < end && length !== slotMillis) fail('short window before the interval end');
      for (let m = Math.floor(wallOf(window.start)); m < wallOf(window.end); m += 1) {
        if (closed[m] === true) fail('window overlaps a closure');
      }
      cursor = window.end.toMillis();
    }
    if (cursor !== end) fail('windows overrun the interval');
  }
  if (w !== windows.length) fail('windows outside the intervals');
  return problems;
}

describe('calendar properties, 2000-2100', () => {
  it('opening hours are the weekly hours minus weekends, holidays and closures; windows tile them', () => {
    fc.assert(
      fc.property(scenario, ({ from, closures, settings, days }) => {
        const schedules = openingHours(from, days, settings, closures);
        expect(schedules.map((d) => d.date)).toEqual(
          Array.from({ length: days }, (_, i) => addDays(from, i)),
        );
        expect(schedules.flatMap((day) => dayProblems(day, settings, closures))).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('bookableWindows lists exactly the window starts that checkSlotStart accepts', () => {
    fc.assert(
      fc.property(scenario, fc.double({ min: 0, max: 1, noNaN: true }), (s, fraction) => {
        const now = s.instant;
        const settings: CalendarSettings = s.settings;
        const listed = bookableWindows(s.from, s.days, now, settings, s.closures);
        const byStart = new Map<number, Interval>(listed.map((w) => [w.start.toMillis(), w]));
        const problems: string[] = [];
        for (let i = 1; i < listed.length; i += 1) {
          if ((listed[i]?.start.toMillis() ?? 0) <= (listed[i - 1]?.start.toMillis() ?? 0))
            problems.push('order');
        }
        const lastDate = addDays(todayIn(now), settings.bookingHorizonDays);
        const earliest = now.toMillis() + settings.minNoticeMinutes * 60_000;
        let seen = 0;
        for (const day of openingHours(s.from, s.days, settings, s.closures)) {
          const windows = windowsOfDay(day, settings.slotMinutes);
          for (const window of windows) {
            const start = window.start.toMillis();
            const at = window.start.toISO() ?? '';
            const result = checkSlotStart(window.start, now, settings, s.closures);
            const inList = byStart.get(start);
            if ((inList !== undefined) !== (start >= earliest && day.date <= lastDate))
              problems.push(`rule ${at}`);
            if (inList !== undefined) {
              seen += 1;
              if (!result.ok) problems.push(`listed but refused ${at}`);
              else if (result.window.end.toMillis() !== inList.end.toMillis()) problems.push(`end ${at}`);
              if (inList.end.toMillis() !== window.end.toMillis()) problems.push(`listed end ${at}`);
            } else if (
              result.ok ||
              result.code !== 'SLOT_NOT_AVAILABLE' ||
              result.reason === 'not_window_start'
            ) {
              problems.push(`unlisted ${at} gave ${JSON.stringify(result)}`);
            }
          }
          // One instant strictly inside a window of the day is refused as not a window start.
          const window = windows[Math.floor(fraction * (windows.length - 1))];
          if (window !== undefined) {
            const start = window.start.toMillis();
            const inside = start + 1 + Math.floor((window.end.toMillis() - start - 2) * fraction);
            const result = checkSlotStart(
              DateTime.fromMillis(inside, { zone: 'utc' }),
              now,
              settings,
              s.closures,
            );
            if (result.ok || result.code !== 'SLOT_NOT_AVAILABLE' || result.reason !== 'not_window_start') {
              problems.push(`inside ${String(inside)} gave ${JSON.stringify(result)}`);
            }
          }
        }
        if (seen !== listed.length) problems.push('listed windows that are not windows of the days');
        expect(problems).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('checkSlotStart accepts a random instant only when bookableWindows lists it', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: SPAN_DAYS * 1440 }), (s, minutes) => {
        // Whole minutes half of the time, so that window starts are actually hit.
        const midnight = DateTime.fromISO(`${s.from}T00:00:00`, { zone: ZONE }).toMillis();
        const candidate = s.roundInstant
          ? DateTime.fromMillis(midnight + minutes * 60_000, { zone: ZONE })
          : s.instant;
        const now = s.instant.minus({ days: 1 });
        const result = checkSlotStart(candidate, now, s.settings, s.closures);
        const listed = bookableWindows(todayIn(candidate), 1, now, s.settings, s.closures);
        expect(result.ok).toBe(listed.some((w) => w.start.toMillis() === candidate.toMillis()));
        const open = openIntervalAt(candidate, s.settings, s.closures) !== null;
        if (!result.ok && (result.code === 'CENTRE_CLOSED' || result.code === 'OUTSIDE_OPENING_HOURS')) {
          expect(open).toBe(false);
        } else {
          expect(open).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('firstOpenInstantAtOrAfter and nextOpeningStartAfter find the next opening and skip none', () => {
    fc.assert(
      fc.property(scenario, ({ instant, settings, closures }) => {
        const first = firstOpenInstantAtOrAfter(instant, settings, closures);
        const next = nextOpeningStartAfter(instant, settings, closures);
        if (first === null || next === null) throw new Error('no opening within 400 days');
        const t = instant.toMillis();
        expect(first.toMillis()).toBeGreaterThanOrEqual(t);
        expect(next.toMillis()).toBeGreaterThan(t);
        expect(openIntervalAt(first, settings, closures)).not.toBeNull();
        expect(openIntervalAt(next, settings, closures)?.start.toMillis()).toBe(next.toMillis());
        if (first.toMillis() === t) expect(openIntervalAt(instant, settings, closures)).not.toBeNull();
        else expect(openIntervalAt(instant, settings, closures)).toBeNull();

        const from = todayIn(instant);
        const span = toEpochDay(requireDate(todayIn(next))) - toEpochDay(requireDate(from)) + 1;
        for (const day of openingHours(from, span, settings, closures)) {
          for (const interval of day.intervals) {
            const start = interval.start.toMillis();
            // Nothing open in [instant, first)…
            if (first.toMillis() > t)
              expect(interval.end.toMillis() <= t || start >= first.toMillis()).toBe(true);
            // …and no opening starts strictly between the instant and the next opening start.
            expect(start <= t || start >= next.toMillis()).toBe(true);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
