import type { DateTime } from 'luxon';
import { addDays } from './civil-date.js';
import { inZone, parisDateOf } from './local-time.js';
import { indexClosures, scheduleFromIndex, scheduleOf, type SchedulingSettings } from './opening-hours.js';
import type { Closure, Interval } from './types.js';

/**
 * Days after an instant's Paris date that the open-instant searches look through: whoever
 * calls them reads the closures of that instant's date and this many dates after it.
 */
export const OPEN_SEARCH_DAYS = 400;

/** The opening interval containing the instant, or null when the centre is closed then. */
export function openIntervalAt(
  instant: DateTime,
  settings: SchedulingSettings,
  closures: readonly Closure[],
): Interval | null {
  const date = parisDateOf(instant);
  const millis = instant.toMillis();
  const day = scheduleOf(
    date,
    settings,
    closures.filter((c) => c.date === date),
  );
  return day.intervals.find((i) => i.start.toMillis() <= millis && millis < i.end.toMillis()) ?? null;
}

/**
 * The first opening interval, scanning the instant's Paris date and the `maxDays` dates after it, that
 * contains the instant (when `containing`) or starts strictly after it.
 */
function scan(
  instant: DateTime,
  settings: SchedulingSettings,
  closures: readonly Closure[],
  maxDays: number,
  containing: boolean,
): DateTime | null {
  const local = inZone(instant);
  const millis = local.toMillis();
  const firstDate = parisDateOf(local);
  const index = indexClosures(closures);
  for (let offset = 0; offset <= maxDays; offset += 1) {
    const day = scheduleFromIndex(addDays(firstDate, offset), settings, index);
    for (const interval of day.intervals) {
      const start = interval.start.toMillis();
      if (start > millis) return interval.start;
      if (containing && millis < interval.end.toMillis()) return local;
    }
  }
  return null;
}

/** The instant itself when the centre is open then, else the start of the next opening interval. */
export function firstOpenInstantAtOrAfter(
  instant: DateTime,
  settings: SchedulingSettings,
  closures: readonly Closure[],
  maxDays: number = OPEN_SEARCH_DAYS,
): DateTime | null {
  return scan(instant, settings, closures, maxDays, true);
}

/** The start of the first opening interval starting strictly after the instant (next morning's carry-over). */
export function nextOpeningStartAfter(
  instant: DateTime,
  settings: SchedulingSettings,
  closures: readonly Closure[],
  maxDays: number = OPEN_SEARCH_DAYS,
): DateTime | null {
  return scan(instant, settings, closures, maxDays, false);
}
