import { addDays, requireDate, weekdayOf, type DateParts } from './civil-date.js';
import { holidaysOfYear } from './holidays.js';
import { atWallMinutes, parseHhmm } from './local-time.js';
import type { CalendarSettings, ClosedReason, Closure, DaySchedule, Interval } from './types.js';

/** Minutes since local midnight, half-open `[from, to)`. */
export interface MinuteSpan {
  from: number;
  to: number;
}

const DAY_MINUTES = 24 * 60;

function span(from: string, to: string): MinuteSpan {
  return { from: parseHhmm(from) ?? 0, to: parseHhmm(to) ?? 0 };
}

/** Weekly opening hours by ISO weekday (index 1 = Monday … 7 = Sunday). */
const WEEKLY_HOURS: readonly (readonly MinuteSpan[])[] = [
  [],
  [span('08:30', '18:15')],
  [span('08:30', '13:00')],
  [span('08:30', '13:00')],
  [span('08:30', '18:15')],
  [span('13:00', '17:00')],
  [],
  [],
];

export type SchedulingSettings = Pick<CalendarSettings, 'pentecostMondayOpen'>;
export type ClosureIndex = ReadonlyMap<string, readonly Closure[]>;

/** Closures grouped by date, built once per call so long closure lists cost one pass. */
export function indexClosures(closures: readonly Closure[]): ClosureIndex {
  const index = new Map<string, Closure[]>();
  for (const closure of closures) {
    const list = index.get(closure.date);
    if (list === undefined) index.set(closure.date, [closure]);
    else list.push(closure);
  }
  return index;
}

/**
 * The local span a closure covers. A missing bound runs to the start or end of the day; an end of
 * `24:00` is midnight. A bound that does not parse closes the whole day: when ops meant to close, failing
 * closed is the safe reading.
 */
export function closureSpan(closure: Closure): MinuteSpan {
  const from = closure.start === null ? 0 : parseHhmm(closure.start);
  const to = closure.end === null || closure.end === '24:00' ? DAY_MINUTES : parseHhmm(closure.end);
  if (from === null || to === null) return { from: 0, to: DAY_MINUTES };
  return { from, to };
}

function subtract(spans: readonly MinuteSpan[], removed: MinuteSpan): MinuteSpan[] {
  if (removed.to <= removed.from) return [...spans];
  const result: MinuteSpan[] = [];
  for (const { from, to } of spans) {
    if (removed.to <= from || removed.from >= to) {
      result.push({ from, to });
      continue;
    }
    if (removed.from > from) result.push({ from, to: removed.from });
    if (removed.to < to) result.push({ from: removed.to, to });
  }
  return result;
}

function closed(date: string, reason: ClosedReason, label: string | null): DaySchedule {
  return { date, open: false, intervals: [], closedReason: reason, label };
}

function toInterval(parts: DateParts, { from, to }: MinuteSpan): Interval {
  return { start: atWallMinutes(parts, from), end: atWallMinutes(parts, to) };
}

/** The schedule of a valid date given only the closures of that date. */
export function scheduleOf(
  date: string,
  settings: SchedulingSettings,
  closuresOfDay: readonly Closure[],
): DaySchedule {
  const parts = requireDate(date);
  const holiday = holidaysOfYear(parts.year, settings).get(date);
  const weekday = weekdayOf(parts);
  // A holiday names the day even on a weekend (26 December 2026 is a Saturday): its reason is
  // the holiday, as its label says. A weekend has no label: a closure set on it closes nothing.
  if (holiday !== undefined) return closed(date, 'holiday', holiday);
  if (weekday >= 6) return closed(date, 'weekend', null);
  const weekly = WEEKLY_HOURS[weekday] ?? [];
  // Only the closures that take some of the day's hours name it: one set on the hours the centre
  // is closed anyway (Friday morning) leaves the day as published, label included.
  const closing = closuresOfDay.filter((c) => {
    const span = closureSpan(c);
    return span.from < span.to && weekly.some(({ from, to }) => span.from < to && span.to > from);
  });
  const label = closing.length === 0 ? null : closing.map((c) => c.reason).join(' ; ');

  let spans: MinuteSpan[] = [...weekly];
  for (const closure of closing) spans = subtract(spans, closureSpan(closure));
  if (spans.length === 0) return closed(date, 'closure', label);
  return { date, open: true, intervals: spans.map((s) => toInterval(parts, s)), closedReason: null, label };
}

export function scheduleFromIndex(
  date: string,
  settings: SchedulingSettings,
  index: ClosureIndex,
): DaySchedule {
  return scheduleOf(date, settings, index.get(date) ?? []);
}

/** The schedule of one date; only the closures of that date are used. */
export function daySchedule(
  date: string,
  settings: SchedulingSettings,
  closures: readonly Closure[],
): DaySchedule {
  requireDate(date);
  return scheduleOf(
    date,
    settings,
    closures.filter((c) => c.date === date),
  );
}

/** The schedules of `days` consecutive dates from `from`. */
export function openingHours(
  from: string,
  days: number,
  settings: SchedulingSettings,
  closures: readonly Closure[],
): DaySchedule[] {
  requireDate(from);
  const index = indexClosures(closures);
  const schedules: DaySchedule[] = [];
  for (let offset = 0; offset < days; offset += 1) {
    schedules.push(scheduleFromIndex(addDays(from, offset), settings, index));
  }
  return schedules;
}
