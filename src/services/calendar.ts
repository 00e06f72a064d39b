import { DateTime } from 'luxon';
import {
  bookableWindows,
  addDays,
  checkSlotStart,
  daysBetween,
  isValidDate,
  openingHours,
  openIntervalAt,
  todayIn,
  PARIS,
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
import type { SlotCache, SlotList } from './slot-cache.js';

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

/**
 * Validates a (from, days) query against the contract: `from` a date from 2000 to 2100, 1 to 366
 * days. The days run at most to 2100-12-31: a valid `from` near the end (with the default 7 days,
 * say) gets the days up to it rather than a refusal.
 */
export function dateRange(from: string, days: number): { from: string; to: string; days: number } {
  if (!isValidDate(from))
    throw new AppError('VALIDATION_ERROR', `La date « ${from} » n'existe pas (format AAAA-MM-JJ).`);
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new AppError('VALIDATION_ERROR', `Le nombre de jours doit être compris entre 1 et ${MAX_DAYS}.`);
  }
  if (from < FIRST_DATE || from > LAST_DATE) {
    throw new AppError(
      'VALIDATION_ERROR',
      `Les dates doivent être comprises entre ${FIRST_DATE} et ${LAST_DATE}.`,
    );
  }
  const kept = Math.min(days, daysBetween(from, LAST_DATE) + 1);
  return { from, to: addDays(from, kept - 1), days: kept };
}

export interface SlotListing {
  domain: DomainCode;
  timezone: string;
  slots: SlotView[];
}

/**
 * The slot listing as JSON, as the route's response schema serializes it: same fields, same
 * order (test/slot-cache/same-process.test.ts compares the two byte for byte).
 */
function listingJson(listing: SlotListing): string {
  return JSON.stringify({
    domain: listing.domain,
    timezone: listing.timezone,
    slots: listing.slots.map((s) => ({ start: s.start, end: s.end, remaining: s.remaining })),
  });
}

/** `slotCache`: the API process's cache of slot listings; none in workers, nor when disabled. */
export function createCalendarService(core: Core, slotCache?: SlotCache) {
  const settings = calendarSettingsOf(core.config);
  const noticeMillis = settings.minNoticeMinutes * 60_000;

  async function closuresBetween(db: Db, from: string, to: string): Promise<Closure[]> {
    return listClosures(db, from, to);
  }

  async function capacityOf(db: Db, domain: DomainCode): Promise<number> {
    return windowCapacity(
      { activeInformateurs: await countActiveInDomain(db, domain) },
      core.config.callbacksPerAgentPerSlot,
    );
  }

  /** Days from today to the horizon's last day, within what one query may span (366 at most). */
  const horizonSpan = Math.min(MAX_DAYS, settings.bookingHorizonDays + 1);

  /**
   * Bookable windows of a domain with their remaining places, in time order (remaining > 0 only).
   * `horizonDays` replaces BOOKING_HORIZON_DAYS for ops' moves, which are no citizen's booking.
   */
  async function bookable(
    db: Db,
    domain: DomainCode,
    from: string,
    days: number,
    now: DateTime,
    horizonDays = settings.bookingHorizonDays,
  ): Promise<BookableSlot[]> {
    const range = dateRange(from, days);
    const closures = await closuresBetween(db, range.from, range.to);
    const rules =
      horizonDays === settings.bookingHorizonDays
        ? settings
        : { ...settings, bookingHorizonDays: horizonDays };
    const windows = bookableWindows(range.from, range.days, now, rules, closures);
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

  /** The bookable windows of a GET /v1/slots query (`from` defaults to today, `days` to the horizon). */
  function listed(domain: DomainCode, from: string | undefined, days: number | undefined, now: DateTime) {
    return bookable(core.db, domain, from ?? todayIn(now), days ?? horizonSpan, now);
  }

  const viewOf = (s: BookableSlot): SlotView => ({
    start: isoParis(s.window.start),
    end: isoParis(s.window.end),
    remaining: s.remaining,
  });

  /**
   * The listing at `now` and until when it holds without a change in the database: the TTL;
   * the instant its first window falls within the minimum notice (windows only ever leave the
   * list with time, earliest first); and the next Paris midnight, when the horizon takes one
   * more day (and, without `from`, "today" changes).
   */
  async function listingAt(
    domain: DomainCode,
    from: string | undefined,
    days: number | undefined,
    now: DateTime,
    ttlMs: number,
  ): Promise<SlotList> {
    const nowMs = now.toMillis();
    const slots = await listed(domain, from, days, now);
    let expiresAt = Math.min(
      nowMs + ttlMs,
      DateTime.fromISO(addDays(todayIn(now), 1), { zone: PARIS }).toMillis(),
    );
    const first = slots[0];
    if (first !== undefined) expiresAt = Math.min(expiresAt, first.window.start.toMillis() - noticeMillis);
    return {
      body: listingJson({ domain, timezone: ZONE, slots: slots.map(viewOf) }),
      computedAt: nowMs,
      expiresAt,
    };
  }

  return {
    domains: () => DOMAINS,

    /** The opening interval containing this instant, or null when the centre is closed then (weekly hours, holidays, closures). */
    async openIntervalAt(db: Db, instant: DateTime): Promise<Interval | null> {
      const today = todayIn(instant);
      return openIntervalAt(instant, settings, await closuresBetween(db, today, today));
    },

    async openingHours(from: string | undefined, days: number): Promise<DayView[]> {
      const range = dateRange(from ?? todayIn(core.clock.now()), days);
      const closures = await closuresBetween(core.db, range.from, range.to);
      return openingHours(range.from, range.days, settings, closures).map((d) => ({
        date: d.date,
        open: d.open,
        intervals: d.intervals.map((i) => ({ start: isoParis(i.start), end: isoParis(i.end) })),
        closedReason: d.closedReason,
        label: d.label,
      }));
    },

    async slots(domain: DomainCode, from: string | undefined, days: number | undefined): Promise<SlotView[]> {
      return (await listed(domain, from, days, core.clock.now())).map(viewOf);
    },

    /**
     * GET /v1/slots's body, pre-serialized, from the process's cache when it may be trusted; null
     * when there is no cache or it is not live (LISTEN connection down): use `slots` then.
     */
    async slotsJson(
      domain: DomainCode,
      from: string | undefined,
      days: number | undefined,
    ): Promise<string | null> {
      if (slotCache === undefined || !slotCache.live) return null;
      const cache = slotCache;
      const now = core.clock.now();
      const nowMs = now.toMillis();
      // Without `from` the list starts today: the entry is cut at midnight (see listingAt).
      return cache.lookup(domain, `${from ?? ''}/${days ?? ''}`, nowMs, () =>
        listingAt(domain, from, days, now, cache.ttlMs),
      );
    },

    bookable,
    capacityOf,

    /** The time rules for one requested window start (capacity is taken separately). */
    async checkSlot(db: Db, start: DateTime, now: DateTime): Promise<SlotCheck> {
      const date = start.setZone(PARIS).toISODate() ?? '';
      return checkSlotStart(start.setZone(PARIS), now, settings, await closuresBetween(db, date, date));
    },

    /** Up to `limit` bookable windows from now on, for refusals that offer something at once. */
    async nextSlots(
      db: Db,
      domain: DomainCode,
      now: DateTime,
      limit = 3,
    ): Promise<{ start: string; end: string }[]> {
      const today = todayIn(now);
      const slots = await bookable(db, domain, today, horizonSpan, now);
      return slots
        .slice(0, limit)
        .map((s) => ({ start: isoParis(s.window.start), end: isoParis(s.window.end) }));
    },

    settings,
  };
}

export type CalendarService = ReturnType<typeof createCalendarService>;
