import type { DateTime } from 'luxon';
import { RememberingZone } from './zone.js';

/** The centre is in Metz: every local date and time of the calendar is read in this zone. */
export const ZONE = 'Europe/Paris';
/** The same zone for computations: its offsets remembered per hour, not asked of Intl each time (zone.ts). */
export const PARIS = new RememberingZone(ZONE);

export interface CalendarSettings {
  slotMinutes: number;
  pentecostMondayOpen: boolean;
  bookingHorizonDays: number;
  minNoticeMinutes: number;
}

/** An exceptional closure set by ops; `start` and `end` both null close the whole day. */
export interface Closure {
  id: string;
  date: string;
  start: string | null;
  end: string | null;
  reason: string;
}

/** Half-open `[start, end)`, both ends in ZONE. */
export interface Interval {
  start: DateTime;
  end: DateTime;
}

export type ClosedReason = 'weekend' | 'holiday' | 'closure';

export interface DaySchedule {
  date: string;
  open: boolean;
  intervals: Interval[];
  closedReason: ClosedReason | null;
  label: string | null;
}

export type SlotCheck =
  | { ok: true; window: Interval }
  | { ok: false; code: 'CENTRE_CLOSED'; reason: ClosedReason; label: string | null }
  | { ok: false; code: 'OUTSIDE_OPENING_HOURS' }
  | {
      ok: false;
      code: 'SLOT_NOT_AVAILABLE';
      reason: 'not_window_start' | 'past' | 'too_soon' | 'beyond_horizon';
    };
