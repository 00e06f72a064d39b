import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import {
  addDays,
  daySchedule,
  firstOpenInstantAtOrAfter,
  isValidDate,
  OPEN_SEARCH_DAYS,
  parseLocalTime,
  todayIn,
  windowsOfDay,
  PARIS,
} from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { AppError } from '../http/errors.js';
import {
  deleteClosure,
  insertClosure,
  listAllClosures,
  listClosures,
  lockCalendarExclusive,
  type ClosureRecord,
} from '../repositories/closures.js';
import type { Closure } from '../domain/calendar/index.js';
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
import { FIRST_DATE, LAST_DATE, type CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';

export interface ClosureView {
  id: string;
  date: string;
  start: string | null;
  end: string | null;
  reason: string;
}

export interface ClosureInput {
  date: string;
  reason: string;
  start?: string;
  end?: string;
  moveBookings?: boolean;
}

export interface CreatedClosure extends ClosureView {
  moved: { reference: string; from: { start: string; end: string }; to: { start: string; end: string } }[];
  notMoved: string[];
  /** Retries whose next attempt fell inside the closure: now at the first open instant after it. */
  retriesMoved: { reference: string; from: string; to: string }[];
}

const view = (c: ClosureRecord): ClosureView => ({
  id: c.id,
  date: c.date,
  start: c.start,
  end: c.end,
  reason: c.reason,
});
const iso = (d: Date) => isoParis(DateTime.fromJSDate(d));

/** The closure's span as instants; refuses local times that do not exist or are ambiguous. */
function periodOf(input: ClosureInput): { from: DateTime; to: DateTime } {
  if (!isValidDate(input.date) || input.date < FIRST_DATE || input.date > LAST_DATE) {
    throw new AppError(
      'VALIDATION_ERROR',
      `La date « ${input.date} » n'est pas valide (AAAA-MM-JJ, de ${FIRST_DATE} à ${LAST_DATE}).`,
    );
  }
  if ((input.start === undefined) !== (input.end === undefined)) {
    throw new AppError('VALIDATION_ERROR', 'Une fermeture partielle demande à la fois « start » et « end ».');
  }
  if (input.start === undefined || input.end === undefined) {
    const from = DateTime.fromISO(input.date, { zone: PARIS }).startOf('day');
    return { from, to: from.plus({ days: 1 }) };
  }
  const from = parseLocalTime(input.date, input.start);
  const to = parseLocalTime(input.date, input.end);
  if (!from || !to) {
    throw new AppError(
      'VALIDATION_ERROR',
      "Cette heure n'existe pas ou est ambiguë ce jour-là (changement d'heure), ou n'est pas au format HH:mm.",
    );
  }
  if (to.toMillis() <= from.toMillis())
    throw new AppError('VALIDATION_ERROR', '« end » doit être après « start ».');
  return { from, to };
}

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

export function createClosureService(core: Core, calendar: CalendarService, outbox: OutboxRelay) {
  /** The next free window of the callback's domain from its own window on, or null inside the horizon. */
  async function moveOne(tx: Transaction<DB>, c: CallbackRecord, closureId: string, now: DateTime) {
    const fromDate = DateTime.fromJSDate(c.windowStart).setZone(PARIS).toISODate()!;
    const today = todayIn(now);
    const start = fromDate > today ? fromDate : today;
    const horizonEnd = DateTime.fromISO(today, { zone: PARIS }).plus({
      days: calendar.settings.bookingHorizonDays,
    });
    const days = Math.max(
      1,
      Math.round(horizonEnd.diff(DateTime.fromISO(start, { zone: PARIS }), 'days').days) + 1,
    );
    const candidates = await calendar.bookable(tx, c.domain as DomainCode, start, days, now);
    const capacity = await calendar.capacityOf(tx, c.domain as DomainCode);
    for (const cand of candidates) {
      if (cand.window.start.toMillis() < c.windowStart.getTime()) continue;
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
    const moved: CreatedClosure['retriesMoved'] = [];
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
   * Bookings of the date on a window that this closure change takes away. Windows are cut from
   * the start of each opening interval, so a part-day closure ending between two window starts
   * restarts the cut there (10:00–10:45: 10:45, 11:15, …), and deleting it cuts from the
   * opening again. Places are counted by window start: a booking left on a window that no longer
   * exists would stop counting against the windows now overlapping it, an overbooking. Only the
   * starts this change removes are looked at: a booking already off the cut is not this change's.
   */
  async function strandedBy(
    tx: Transaction<DB>,
    date: string,
    before: readonly Closure[],
    after: readonly Closure[],
  ): Promise<CallbackRecord[]> {
    const kept = windowStartsOf(date, after);
    const removed = [...windowStartsOf(date, before)].filter((start) => !kept.has(start));
    if (removed.length === 0) return [];
    const from = DateTime.fromISO(date, { zone: PARIS }).startOf('day');
    const booked = await scheduledInPeriod(tx, from.toJSDate(), from.plus({ days: 1 }).toJSDate());
    const gone = new Set(removed);
    return booked.filter((c) => gone.has(c.windowStart.getTime()));
  }

  /** Moves each booking to its domain's next free window (history, due job); those that cannot, reported. */
  async function moveAll(tx: Transaction<DB>, bookings: CallbackRecord[], closureId: string, now: DateTime) {
    const moved: CreatedClosure['moved'] = [];
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

  return {
    async list(from: string | undefined): Promise<ClosureView[]> {
      const since = from ?? todayIn(core.clock.now());
      if (!isValidDate(since)) throw new AppError('VALIDATION_ERROR', `La date « ${since} » n'existe pas.`);
      return (await listAllClosures(core.db, since)).map(view);
    },

    /**
     * Adds a closure. Bookings it covers are never dropped silently: without moveBookings the
     * closure is refused with their references; with it each moves to its domain's next free
     * window (recorded in its history), and those that cannot move inside the horizon are
     * reported in notMoved and keep their window. Retries due inside it move after it (those
     * that cannot, with no opening in the year searched, are reported in notMoved too).
     */
    async create(input: ClosureInput): Promise<CreatedClosure> {
      const period = periodOf(input);
      const now = core.clock.now();
      const result = await core.db.transaction().execute(async (tx) => {
        await lockCalendarExclusive(tx);
        const closure = await insertClosure(
          tx,
          {
            id: randomUUID(),
            date: input.date,
            start: input.start ?? null,
            end: input.end ?? null,
            reason: input.reason.trim(),
          },
          now.toJSDate(),
        );
        // Inside the closure, or on a window of the day that it shifts (strandedBy).
        const inside = await scheduledInPeriod(tx, period.from.toJSDate(), period.to.toJSDate());
        const insideIds = new Set(inside.map((c) => c.id));
        const after = await listClosures(tx, input.date, input.date);
        const before = after.filter((c) => c.id !== closure.id);
        const shifted = (await strandedBy(tx, input.date, before, after)).filter((c) => !insideIds.has(c.id));
        const covered = [...inside, ...shifted].sort(
          (a, b) =>
            a.windowStart.getTime() - b.windowStart.getTime() ||
            a.createdAt.getTime() - b.createdAt.getTime(),
        );
        if (covered.length > 0 && !input.moveBookings)
          throw new AppError(
            'CLOSURE_HAS_BOOKINGS',
            `${covered.length} rappel(s) prévu(s) pendant cette fermeture ou dans des créneaux qu’elle décale. Relancez avec « moveBookings: true » pour les déplacer.`,
            { references: covered.map((c) => c.reference) },
          );
        const { moved, notMoved, outboxIds } = await moveAll(tx, covered, closure.id, now);
        const retries = await moveRetries(tx, period, closure, now);
        outboxIds.push(...retries.outboxIds);
        notMoved.push(...retries.notMoved);
        return { closure, moved, notMoved, retriesMoved: retries.moved, outboxIds };
      });
      await outbox.relayNow(result.outboxIds);
      if (result.notMoved.length > 0)
        core.log.warn(
          { closureId: result.closure.id, notMoved: result.notMoved.length },
          'closure: bookings left in place',
        );
      return {
        ...view(result.closure),
        moved: result.moved,
        notMoved: result.notMoved,
        retriesMoved: result.retriesMoved,
      };
    },

    /**
     * Deletes a closure. The day's windows are cut again without it: the bookings made on
     * windows it had shifted move to the next free windows of the new cut (recorded in their
     * history), as a new closure moves them with moveBookings; the contract's DELETE answers 204.
     */
    async remove(id: string): Promise<void> {
      if (!/^[0-9a-f-]{36}$/i.test(id))
        throw new AppError('NOT_FOUND', 'Aucune fermeture ne porte cet identifiant.');
      const now = core.clock.now();
      const result = await core.db.transaction().execute(async (tx) => {
        await lockCalendarExclusive(tx);
        const gone = await deleteClosure(tx, id);
        if (!gone) return null;
        const after = await listClosures(tx, gone.date, gone.date);
        return moveAll(tx, await strandedBy(tx, gone.date, [...after, gone], after), id, now);
      });
      if (!result) throw new AppError('NOT_FOUND', 'Aucune fermeture ne porte cet identifiant.');
      await outbox.relayNow(result.outboxIds);
      if (result.notMoved.length > 0)
        core.log.warn(
          { closureId: id, notMoved: result.notMoved },
          'closure deleted: bookings on windows it had shifted left in place',
        );
    },
  };
}

export type ClosureService = ReturnType<typeof createClosureService>;
