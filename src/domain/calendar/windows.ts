import { DateTime } from 'luxon';
import { PARIS, type DaySchedule, type Interval } from './types.js';

export function requireSlotMinutes(slotMinutes: number): void {
  if (!Number.isInteger(slotMinutes) || slotMinutes <= 0) {
    throw new RangeError(`slotMinutes must be a positive integer: ${String(slotMinutes)}`);
  }
}

/** An opening interval cut into `slotMinutes` windows from its start; the last one ends at closing. */
export function windowsOfInterval(interval: Interval, slotMinutes: number): Interval[] {
  requireSlotMinutes(slotMinutes);
  const windows: Interval[] = [];
  const endMillis = interval.end.toMillis();
  const slotMillis = slotMinutes * 60_000;
  let start = interval.start;
  // Absolute steps (what plus({ minutes }) does), built with fromMillis: one Intl offset lookup per
  // window instead of three.
  for (let next = start.toMillis() + slotMillis; start.toMillis() < endMillis; next += slotMillis) {
    const end = next < endMillis ? DateTime.fromMillis(next, { zone: PARIS }) : interval.end;
    windows.push({ start, end });
    start = end;
  }
  return windows;
}

/** Every window of a day, in time order (none on a closed day). */
export function windowsOfDay(day: DaySchedule, slotMinutes: number): Interval[] {
  requireSlotMinutes(slotMinutes);
  return day.intervals.flatMap((interval) => windowsOfInterval(interval, slotMinutes));
}
