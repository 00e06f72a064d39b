import { DateTime } from 'luxon';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import {
  addDays,
  daySchedule,
  firstOpenInstantAtOrAfter,
  OPEN_SEARCH_DAYS,
  todayIn,
  windowsOfDay,
  PARIS,
  type Closure,
} from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { listClosures, type ClosureRecord } from '../repositories/closures.js';
import {
  moveRetry,
  moveWindow,
  retriesDueInPeriod,
  scheduledInPeriod,
  type CallbackRecord,
} from '../repositories/callbacks.js';
import { releasePlace, takePlace } from '../repositories/window-load.js';
import { recordEvents } from '../repositories/callback-events.js';
import { enqueueOutbox } from '../repositories/outbox.js';
import { callbackDueJob } from '../queue/jobs.js';
import { isoParis, type Core } from './core.js';
import { MAX_DAYS, type CalendarService } from './calendar.js';

/**
 * What a closure change displaces, moved (closures.ts owns the transaction): bookings inside a
 * new closure or on the windows a change takes away, to the next free windows; retries due
 * inside a new closure, to the first open instant after it. Each move is recorded in the
 * callback's history, with a due job at its new time.
 */

export type BookingMove = {
  reference: string;
  from: { start: string; end: string };
  to: { start: string; end: string };
};
export type RetryMove = { reference: string; from: string; to: string };

const iso = (d: Date) => isoParis(DateTime.fromJSDate(d));

/** A scheduled callback a closure moved: its history, and its due job at its new time (outbox id). */
async function recordMove(
  tx: Transaction<DB>,
  callbackId: string,
  type: 'moved' | 'retry_moved',
  data: Record<string, unknown>,
  dueAt: Date,
  now: DateTime,
): Promise<number> {
  await recordEvents(tx, [
    {
      callbackId,
      type,
      fromStatus: 'scheduled',
      toStatus: 'scheduled',
      actor: 'ops',
      at: now.toJSDate(),
      data,
    },
  ]);
  return enqueueOutbox(tx, callbackDueJob(callbackId, dueAt), now.toJSDate());
}

/**
 * How far past BOOKING_HORIZON_DAYS a moved booking may go: the horizon limits what citizens
 * book, and a booking on the horizon's last day would otherwise find no later window at all.
 */
const MOVE_PAST_HORIZON_DAYS = 28;

export function createClosureMoves(core: Core, calendar: CalendarService) {
  /**
   * The next free window of the callback's domain after its start (the contract's "next free
   * windows": never an earlier start, so the citizen is not called before the time they chose;
   * nor its own start, which a part-day closure may leave as a shorter window, 11:00–11:15 under
   * 11:15–11:45: taking it depended on whether the window had a spare place, since the new place
   * is taken before the old one is given back, and its span could be a few minutes).
   * The search goes MOVE_PAST_HORIZON_DAYS past the booking horizon. Only when it finds no free
   * window, a window of the new cut covering the booked one (12:30–13:00 for 12:45–13:00 once a
   * closure's cut is undone): a call up to a window early rather than a booking left on a start
   * that no longer exists, which would no longer count against the windows overlapping it (an
   * overbooking). Null if neither.
   */
  async function moveOne(tx: Transaction<DB>, c: CallbackRecord, closureId: string, now: DateTime) {
    const fromDate = DateTime.fromJSDate(c.windowStart).setZone(PARIS).toISODate()!;
    const today = todayIn(now);
    const start = fromDate > today ? fromDate : today;
    // As far as one query may span: the windows stop at the horizon given (bookableWindows).
    const horizonDays = calendar.settings.bookingHorizonDays + MOVE_PAST_HORIZON_DAYS;
    const candidates = await calendar.bookable(tx, c.domain as DomainCode, start, MAX_DAYS, now, horizonDays);
    const capacity = await calendar.capacityOf(tx, c.domain as DomainCode);
    const booked = { start: c.windowStart.getTime(), end: c.windowEnd.getTime() };
    const later = candidates.filter((cand) => cand.window.start.toMillis() > booked.start);
    const covering = candidates.filter(
      (cand) => cand.window.start.toMillis() < booked.start && cand.window.end.toMillis() >= booked.end,
    );
    for (const cand of [...later, ...covering]) {
      if (!(await takePlace(tx, c.domain, cand.window.start.toJSDate(), capacity))) continue;
      await releasePlace(tx, c.domain, c.windowStart);
      const to = { start: cand.window.start.toJSDate(), end: cand.window.end.toJSDate() };
      await moveWindow(tx, c.id, to.start, to.end, now.toJSDate());
      const move = {
        from: { start: iso(c.windowStart), end: iso(c.windowEnd) },
        to: { start: iso(to.start), end: iso(to.end) },
      };
      const outboxId = await recordMove(tx, c.id, 'moved', { ...move, closureId }, to.start, now);
      return { move: { reference: c.reference, ...move }, outboxId };
    }
    return null;
  }

  /**
   * A no-answer's next attempt was placed inside opening hours as they stood then: one falling
   * inside the new closure goes to the first instant the centre is open after it (later, so
   * still at least the retry delay after the last attempt), recorded in its history.
   */
  async function moveRetries(
    tx: Transaction<DB>,
    period: { from: DateTime; to: DateTime },
    closure: ClosureRecord,
    now: DateTime,
  ) {
    const retries = await retriesDueInPeriod(tx, period.from.toJSDate(), period.to.toJSDate());
    if (retries.length === 0) return { moved: [], notMoved: [], outboxIds: [] };
    const closures = await listClosures(tx, closure.date, addDays(closure.date, OPEN_SEARCH_DAYS));
    const moved: RetryMove[] = [];
    const notMoved: string[] = [];
    const outboxIds: number[] = [];
    for (const c of retries) {
      const at = firstOpenInstantAtOrAfter(
        DateTime.fromJSDate(c.dueAt, { zone: PARIS }),
        calendar.settings,
        closures,
      );
      const to = at?.toJSDate();
      // No opening at all in the searched year (closures everywhere): left where it is, reported.
      if (!to || !(await moveRetry(tx, c.id, to, now.toJSDate()))) {
        notMoved.push(c.reference);
        continue;
      }
      const move = { from: iso(c.dueAt), to: iso(to) };
      outboxIds.push(await recordMove(tx, c.id, 'retry_moved', { ...move, closureId: closure.id }, to, now));
      moved.push({ reference: c.reference, ...move });
    }
    return { moved, notMoved, outboxIds };
  }

  /** Window starts (ms) of a date under these closures of that date. */
  const windowStartsOf = (date: string, closures: readonly Closure[]) =>
    new Set(
      windowsOfDay(daySchedule(date, calendar.settings, closures), calendar.settings.slotMinutes).map((w) =>
        w.start.toMillis(),
      ),
    );

  /**
   * The bookings of a date that a closure change displaces: those whose window overlaps `inside`
   * (the new closure's span), and those on a window start the change takes away. Windows are
   * cut from the start of each opening interval, so a part-day closure ending between two window
   * starts restarts the cut there (10:00–10:45: 10:45, 11:15, …), and deleting it cuts from the
   * opening again. Places are counted by window start: a booking left on a window that no longer
   * exists would stop counting against the windows now overlapping it, an overbooking. Only the
   * starts this change removes count: a booking already off the cut is not this change's.
   */
  async function displaced(
    tx: Transaction<DB>,
    date: string,
    closures: { before: readonly Closure[]; after: readonly Closure[] },
    inside?: { from: DateTime; to: DateTime },
  ): Promise<CallbackRecord[]> {
    const kept = windowStartsOf(date, closures.after);
    const gone = new Set([...windowStartsOf(date, closures.before)].filter((start) => !kept.has(start)));
    if (gone.size === 0 && !inside) return [];
    const from = DateTime.fromISO(date, { zone: PARIS }).startOf('day');
    // In window order (then booking order): the earlier windows are moved first.
    const booked = await scheduledInPeriod(tx, from.toJSDate(), from.plus({ days: 1 }).toJSDate());
    const overlaps = (c: CallbackRecord) =>
      inside !== undefined &&
      c.windowStart.getTime() < inside.to.toMillis() &&
      c.windowEnd.getTime() > inside.from.toMillis();
    return booked.filter((c) => gone.has(c.windowStart.getTime()) || overlaps(c));
  }

  /**
   * Moves each booking, in window order, to its domain's next free window (history, due job);
   * those that cannot, reported.
   */
  async function moveAll(tx: Transaction<DB>, bookings: CallbackRecord[], closureId: string, now: DateTime) {
    const moved: BookingMove[] = [];
    const notMoved: string[] = [];
    const outboxIds: number[] = [];
    for (const c of bookings) {
      const r = await moveOne(tx, c, closureId, now);
      if (r) {
        moved.push(r.move);
        outboxIds.push(r.outboxId);
      } else {
        notMoved.push(c.reference);
      }
    }
    return { moved, notMoved, outboxIds };
  }

  return { moveAll, moveRetries, displaced };
}

export type ClosureMoves = ReturnType<typeof createClosureMoves>;
