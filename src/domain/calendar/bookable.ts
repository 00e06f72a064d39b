import { DateTime } from 'luxon';
import { addDays, requireDate } from './civil-date.js';
import { inZone, parisDateOf, todayIn, wallMinutesOf } from './local-time.js';
import { closureSpan, indexClosures, scheduleFromIndex, scheduleOf } from './opening-hours.js';
import { PARIS, type CalendarSettings, type Closure, type Interval, type SlotCheck } from './types.js';
import { requireSlotMinutes, windowsOfDay } from './windows.js';

type TimeRefusal = 'past' | 'too_soon' | 'beyond_horizon';

/**
 * The time rules a window start must pass, shared by checkSlotStart and bookableWindows so that the two
 * can never disagree. `lastBookableDate` is today in Paris plus the horizon.
 */
function timeRefusal(
  start: DateTime,
  date: string,
  now: DateTime,
  settings: CalendarSettings,
  lastBookableDate: string,
): TimeRefusal | null {
  const startMillis = start.toMillis();
  const nowMillis = now.toMillis();
  if (startMillis < nowMillis) return 'past';
  if (startMillis < nowMillis + settings.minNoticeMinutes * 60_000) return 'too_soon';
  if (date > lastBookableDate) return 'beyond_horizon';
  return null;
}

function lastBookableDateOf(now: DateTime, settings: CalendarSettings): string {
  return addDays(todayIn(now), settings.bookingHorizonDays);
}

/** Whether `start` may be booked as a window start, by calendar and time rules (not capacity). */
export function checkSlotStart(
  start: DateTime,
  now: DateTime,
  settings: CalendarSettings,
  closures: readonly Closure[],
): SlotCheck {
  requireSlotMinutes(settings.slotMinutes);
  const local = inZone(start);
  const date = parisDateOf(local);
  const closuresOfDay = closures.filter((c) => c.date === date);
  const day = scheduleOf(date, settings, closuresOfDay);
  if (!day.open)
    return { ok: false, code: 'CENTRE_CLOSED', reason: day.closedReason ?? 'closure', label: day.label };

  const wall = wallMinutesOf(local);
  const covering = closuresOfDay.filter((c) => {
    const { from, to } = closureSpan(c);
    return from <= wall && wall < to;
  });
  if (covering.length > 0)
    return {
      ok: false,
      code: 'CENTRE_CLOSED',
      reason: 'closure',
      label: covering.map((c) => c.reason).join(' ; '),
    };

  const startMillis = local.toMillis();
  const interval = day.intervals.find(
    (i) => i.start.toMillis() <= startMillis && startMillis < i.end.toMillis(),
  );
  if (interval === undefined) return { ok: false, code: 'OUTSIDE_OPENING_HOURS' };

  // Windows are cut in absolute steps from their interval's start, as windowsOfInterval does.
  const slotMillis = settings.slotMinutes * 60_000;
  if ((startMillis - interval.start.toMillis()) % slotMillis !== 0) {
    return { ok: false, code: 'SLOT_NOT_AVAILABLE', reason: 'not_window_start' };
  }
  const endMillis = startMillis + slotMillis;
  const window: Interval = {
    start: local,
    end: endMillis < interval.end.toMillis() ? DateTime.fromMillis(endMillis, { zone: PARIS }) : interval.end,
  };

  const refusal = timeRefusal(window.start, date, now, settings, lastBookableDateOf(now, settings));
  if (refusal !== null) return { ok: false, code: 'SLOT_NOT_AVAILABLE', reason: refusal };
  return { ok: true, window };
}

/** The windows of `days` dates from `from` that pass the time rules, in time order. */
export function bookableWindows(
  from: string,
  days: number,
  now: DateTime,
  settings: CalendarSettings,
  closures: readonly Closure[],
): Interval[] {
  requireDate(from);
  requireSlotMinutes(settings.slotMinutes);
  const index = indexClosures(closures);
  const lastBookableDate = lastBookableDateOf(now, settings);
  const bookable: Interval[] = [];
  for (let offset = 0; offset < days; offset += 1) {
    const date = addDays(from, offset);
    // Later dates are beyond the horizon whatever their hours.
    if (date > lastBookableDate) break;
    const day = scheduleFromIndex(date, settings, index);
    for (const window of windowsOfDay(day, settings.slotMinutes)) {
      if (timeRefusal(window.start, date, now, settings, lastBookableDate) === null) bookable.push(window);
    }
  }
  return bookable;
}
