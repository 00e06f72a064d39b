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
  moveWindows,
  retriesDueInPeriod,
  scheduledInPeriod,
  type CallbackRecord,
} from '../repositories/callbacks.js';
import { releasePlaces, takePlace } from '../repositories/window-load.js';
import { recordEvents, type CallbackEvent } from '../repositories/callback-events.js';
import { enqueueOutbox, enqueueOutboxRows } from '../repositories/outbox.js';
import { callbackDueJob, windowDueJob } from '../queue/jobs.js';
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

/** The history entry of a scheduled callback a closure moved (a booking, or a retry). */
const moveEvent = (
  callbackId: string,
  type: 'moved' | 'retry_moved',
  data: Record<string, unknown>,
  now: DateTime,
): CallbackEvent => ({
  callbackId,
  type,
  fromStatus: 'scheduled',
  toStatus: 'scheduled',
  actor: 'ops',
  at: now.toJSDate(),
  data,
});

/** A retry a closure moved: its history, and its due job at its new time (outbox id). */
async function recordRetryMove(
  tx: Transaction<DB>,
  callbackId: string,
  data: Record<string, unknown>,
  dueAt: Date,
  now: DateTime,
): Promise<number> {
  await recordEvents(tx, [moveEvent(callbackId, 'retry_moved', data, now)]);
  return enqueueOutbox(tx, callbackDueJob(callbackId, dueAt), now.toJSDate());
}

/**
 * How far past BOOKING_HORIZON_DAYS a moved booking may go: the horizon limits what citizens
 * book, and a booking on the horizon's last day would otherwise find no later window at all.
 */
const MOVE_PAST_HORIZON_DAYS = 28;

/** History rows per INSERT (seven parameters each, under PostgreSQL's 65,535). */
const EVENTS_PER_STATEMENT = 5_000;

export function createClosureMoves(core: Core, calendar: CalendarService) {
  /**
   * The free windows of a domain a move may take, read once for all the bookings a closure
   * change displaces (they are all on its date): from that date (or today) to
   * MOVE_PAST_HORIZON_DAYS past the booking horizon, with their places left, which the moves
   * then count down in memory. Read again for each booking, with five writes each, a busy day's
   * 1,520 moves held the calendar lock for 13.6 s, every booking and no-answer of the centre
   * waiting on it (outside review helper-51). The exclusive calendar lock keeps bookings out
   * meanwhile; a cancel may free a place the plan does not know of (a move then goes a little
   * later than it could), and places are still taken by guarded writes, which never overbook.
   */
  async function planOf(tx: Transaction<DB>, domain: DomainCode, date: string, now: DateTime) {
    const today = todayIn(now);
    const start = date > today ? date : today;
    // As far as one query may span: the windows stop at the horizon given (bookableWindows).
    const horizonDays = calendar.settings.bookingHorizonDays + MOVE_PAST_HORIZON_DAYS;
    return {
      free: await calendar.bookable(tx, domain, start, MAX_DAYS, now, horizonDays),
      capacity: await calendar.capacityOf(tx, domain),
    };
  }
  type Plan = Awaited<ReturnType<typeof planOf>>;
  type Slot = Plan['free'][number];

  /**
   * Where a booking goes: the next free window of its plan after its start (the contract's
   * "next free windows": never an earlier start, so the citizen is not called before the time
   * they chose; nor its own start, which a part-day closure may leave as a shorter window,
   * 11:00–11:15 under 11:15–11:45: taking it depended on whether the window had a spare place,
   * and its span could be a few minutes). Only when there is none, a window of the new cut
   * covering the booked one (12:30–13:00 for 12:45–13:00 once a closure's cut is undone): a call
   * up to a window early rather than a booking left on a start that no longer exists, which would
   * no longer count against the windows overlapping it (an overbooking). Null if neither.
   */
  function destination(c: CallbackRecord, plan: Plan): Slot | null {
    const booked = { start: c.windowStart.getTime(), end: c.windowEnd.getTime() };
    for (const cand of plan.free)
      if (cand.remaining > 0 && cand.window.start.toMillis() > booked.start) return cand;
    for (const cand of plan.free)
      if (
        cand.remaining > 0 &&
        cand.window.start.toMillis() < booked.start &&
        cand.window.end.toMillis() >= booked.end
      )
        return cand;
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
      outboxIds.push(await recordRetryMove(tx, c.id, { ...move, closureId: closure.id }, to, now));
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
   * those that cannot, reported. The destinations are decided in memory, then the places are
   * taken window by window (guarded: a window found fuller than planned takes none, and its
   * bookings are placed again without it), and the rest is written in a few statements.
   */
  async function moveAll(tx: Transaction<DB>, bookings: CallbackRecord[], closureId: string, now: DateTime) {
    const plans = new Map<string, Plan>();
    const notMoved = new Set<string>();
    const placed = new Map<CallbackRecord, Slot>();
    let pending = bookings;
    while (pending.length > 0) {
      const byWindow = new Map<Slot, CallbackRecord[]>();
      for (const c of pending) {
        let plan = plans.get(c.domain);
        if (plan === undefined) {
          const date = DateTime.fromJSDate(c.windowStart).setZone(PARIS).toISODate()!;
          plan = await planOf(tx, c.domain as DomainCode, date, now);
          plans.set(c.domain, plan);
        }
        const to = destination(c, plan);
        if (to === null) {
          notMoved.add(c.reference);
          continue;
        }
        to.remaining -= 1;
        const group = byWindow.get(to);
        if (group) group.push(c);
        else byWindow.set(to, [c]);
      }
      pending = [];
      for (const [to, group] of byWindow) {
        const { domain } = group[0]!;
        if (
          await takePlace(tx, domain, to.window.start.toJSDate(), plans.get(domain)!.capacity, group.length)
        ) {
          for (const c of group) placed.set(c, to);
        } else {
          to.remaining = 0; // fuller than read (the informateurs' count went down meanwhile)
          pending.push(...group);
        }
      }
    }

    const moves = bookings.flatMap((c) => {
      const to = placed.get(c);
      if (to === undefined) return [];
      const move = {
        from: { start: iso(c.windowStart), end: iso(c.windowEnd) },
        to: { start: isoParis(to.window.start), end: isoParis(to.window.end) },
      };
      return [{ c, to, move }];
    });
    for (const domain of new Set(moves.map((m) => m.c.domain)))
      await releasePlaces(
        tx,
        domain,
        moves.filter((m) => m.c.domain === domain).map((m) => m.c.windowStart),
      );
    await moveWindows(
      tx,
      moves.map(({ c, to }) => ({
        id: c.id,
        start: to.window.start.toJSDate(),
        end: to.window.end.toJSDate(),
      })),
      now.toJSDate(),
    );
    for (let i = 0; i < moves.length; i += EVENTS_PER_STATEMENT)
      await recordEvents(
        tx,
        moves
          .slice(i, i + EVENTS_PER_STATEMENT)
          .map(({ c, move }) => moveEvent(c.id, 'moved', { ...move, closureId }, now)),
      );
    // The due job of each window they go to, shared with the window's other bookings.
    const jobs = new Map(
      moves.map(({ c, to }) => {
        const job = windowDueJob(c.domain, to.window.start.toJSDate());
        return [job.jobId, job] as const;
      }),
    );
    const outboxIds = await enqueueOutboxRows(tx, [...jobs.values()], now.toJSDate());
    return {
      moved: moves.map(({ c, move }) => ({ reference: c.reference, ...move })),
      notMoved: bookings.filter((c) => notMoved.has(c.reference)).map((c) => c.reference),
      outboxIds,
    };
  }

  return { moveAll, moveRetries, displaced };
}

export type ClosureMoves = ReturnType<typeof createClosureMoves>;
