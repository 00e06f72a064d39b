import { DateTime } from 'luxon';
import {
  bookableWindows,
  checkSlotStart,
  isValidDate,
  openingHours,
  todayIn,
  ZONE,
  type Closure,
  type Interval,
  type SlotCheck,
} from '../domain/calendar/index.js';
import { DOMAINS, type DomainCode } from '../domain/domains.js';
import { remainingCapacity, windowCapacity } from '../domain/capacity.js';
import type { Db } from '../db/schema.js';
import { listClosures } from '../repositories/closures.js';
import { bookedInRange } from '../repositories/window-load.js';
import { countActiveInDomain } from '../repositories/agents.js';
import { AppError } from '../http/errors.js';
import { calendarSettingsOf, isoParis, type Core } from './core.js';

export const FIRST_DATE = '2000-01-01';
export const LAST_DATE = '2100-12-31';
export const MAX_DAYS = 366;

export interface DayView {
  date: string;
  open: boolean;
  intervals: { start: string; end: string }[];
  closedReason: 'weekend' | 'holiday' | 'closure' | null;
  label: string | null;
}

export interface SlotView {
  start: string;
  end: string;
  remaining: number;
}

export interface BookableSlot {
  window: Interval;
  remaining: number;
}

function addDays(date: string, days: number): string {
  return DateTime.fromISO(date, { zone: ZONE }).plus({ days }).toISODate() ?? date;
}

/** Validates a (from, days) query against the contract: dates 2000–2100, 1 to 366 days. */
export function dateRange(from: string, days: number): { from: string; to: string } {
  if (!isValidDate(from))
    throw new AppError('VALIDATION_ERROR', `La date « ${from} » n'existe pas (format AAAA-MM-JJ).`);
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new AppError('VALIDATION_ERROR', `Le nombre de jours doit être compris entre 1 et ${MAX_DAYS}.`);
  }
  const to = addDays(from, days - 1);
  if (from < FIRST_DATE || to > LAST_DATE) {
    throw new AppError(
      'VALIDATION_ERROR',
      `Les dates doivent être comprises entre ${FIRST_DATE} et ${LAST_DATE}.`,
    );
  }
  return { from, to };
}

export function createCalendarService(core: Core) {
  const settings = calendarSettingsOf(core.config);

  async function closuresBetween(db: Db, from: string, to: string): Promise<Closure[]> {
    return listClosures(db, from, to);
  }

  async function capacityOf(db: Db, domain: DomainCode): Promise<number> {
    return windowCapacity(
      { activeInformateurs: await countActiveInDomain(db, domain) },
      core.config.callbacksPerAgentPerSlot,
    );
  }

  /** Bookable windows of a domain with their remaining places, in time order (remaining > 0 only). */
  async function bookable(
    db: Db,
    domain: DomainCode,
    from: string,
    days: number,
    now: DateTime,
  ): Promise<BookableSlot[]> {
    const range = dateRange(from, days);
    const closures = await closuresBetween(db, range.from, range.to);
    const windows = bookableWindows(range.from, days, now, settings, closures);
    if (windows.length === 0) return [];
    const capacity = await capacityOf(db, domain);
    if (capacity === 0) return [];
    const first = windows[0]!.start.toJSDate();
    const last = windows[windows.length - 1]!.start.plus({ milliseconds: 1 }).toJSDate();
    const booked = await bookedInRange(db, domain, first, last);
    const out: BookableSlot[] = [];
    for (const w of windows) {
      const remaining = remainingCapacity(capacity, booked.get(w.start.toMillis()) ?? 0);
      if (remaining > 0) out.push({ window: w, remaining });
    }
    return out;
  }

  return {
    domains: () => DOMAINS,

    async openingHours(from: string | undefined, days: number): Promise<DayView[]> {
      const range = dateRange(from ?? todayIn(core.clock.now()), days);
      const closures = await closuresBetween(core.db, range.from, range.to);
      return openingHours(range.from, days, settings, closures).map((d) => ({
        date: d.date,
        open: d.open,
        intervals: d.intervals.map((i) => ({ start: isoParis(i.start), end: isoParis(i.end) })),
        closedReason: d.closedReason,
        label: d.label,
      }));
    },

    async slots(domain: DomainCode, from: string | undefined, days: number | undefined): Promise<SlotView[]> {
      const now = core.clock.now();
      const slots = await bookable(
        core.db,
        domain,
        from ?? todayIn(now),
        days ?? settings.bookingHorizonDays + 1,
        now,
      );
      return slots.map((s) => ({
        start: isoParis(s.window.start),
        end: isoParis(s.window.end),
        remaining: s.remaining,
      }));
    },

    bookable,
    capacityOf,

    /** The time rules for one requested window start (capacity is taken separately). */
    async checkSlot(db: Db, start: DateTime, now: DateTime): Promise<SlotCheck> {
      const date = start.setZone(ZONE).toISODate() ?? '';
      return checkSlotStart(start.setZone(ZONE), now, settings, await closuresBetween(db, date, date));
    },

    /** Up to `limit` bookable windows from now on, for refusals that offer something at once. */
    async nextSlots(
      db: Db,
      domain: DomainCode,
      now: DateTime,
      limit = 3,
    ): Promise<{ start: string; end: string }[]> {
      const today = todayIn(now);
      const slots = await bookable(db, domain, today, settings.bookingHorizonDays + 1, now);
      return slots
        .slice(0, limit)
        .map((s) => ({ start: isoParis(s.window.start), end: isoParis(s.window.end) }));
    },

    settings,
  };
}

export type CalendarService = ReturnType<typeof createCalendarService>;
