import { DateTime } from 'luxon';
import { isValidDate, parseLocalTime, todayIn, PARIS } from '../domain/calendar/index.js';
import { AppError } from '../http/errors.js';
import {
  deleteClosure,
  insertClosure,
  listAllClosures,
  listClosures,
  lockCalendarExclusive,
  type ClosureRecord,
} from '../repositories/closures.js';
import type { Core } from './core.js';
import { isUuid, newId } from '../db/ids.js';
import { FIRST_DATE, LAST_DATE, type CalendarService } from './calendar.js';
import { createClosureMoves, type BookingMove, type RetryMove } from './closure-moves.js';
import type { OutboxRelay } from './outbox-relay.js';
import { queuedAsapInPeriod } from '../repositories/callbacks.js';

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
  moved: BookingMove[];
  notMoved: string[];
  /** Retries whose next attempt fell inside the closure: now at the first open instant after it. */
  retriesMoved: RetryMove[];
  /**
   * Asap callbacks waiting in the queue whose promised window meets the closure: not moved (they
   * stay first in line), but ops learn which promises the closure may break.
   */
  asapWaiting: string[];
}

const view = (c: ClosureRecord): ClosureView => ({
  id: c.id,
  date: c.date,
  start: c.start,
  end: c.end,
  reason: c.reason,
});

/**
 * When a stored closure ends: its end time that day, or the next midnight for a whole day. Null
 * if that time cannot be read (never for a closure created here): such a closure is not over.
 */
function endOf(c: ClosureRecord): DateTime | null {
  if (c.end === null) return DateTime.fromISO(c.date, { zone: PARIS }).startOf('day').plus({ days: 1 });
  return parseLocalTime(c.date, c.end);
}

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

export function createClosureService(core: Core, calendar: CalendarService, outbox: OutboxRelay) {
  const { moveAll, moveRetries, displaced } = createClosureMoves(core, calendar);

  return {
    async list(from: string | undefined): Promise<ClosureView[]> {
      const since = from ?? todayIn(core.clock.now());
      if (!isValidDate(since)) throw new AppError('VALIDATION_ERROR', `La date « ${since} » n'existe pas.`);
      // No closure is before the calendar's first date; PostgreSQL has no year 0 (a 500 once).
      return (await listAllClosures(core.db, since < FIRST_DATE ? FIRST_DATE : since)).map(view);
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
      const whollyPast = (now: DateTime) => {
        // A closure wholly in the past would rewrite the published hours of days already served.
        if (period.to.toMillis() <= now.toMillis())
          throw new AppError(
            'VALIDATION_ERROR',
            'Cette fermeture est entièrement passée : une fermeture doit finir après maintenant.',
          );
      };
      whollyPast(core.clock.now()); // before waiting for the lock, when it is plain already
      const result = await core.db.transaction().execute(async (tx) => {
        await lockCalendarExclusive(tx);
        // After the lock, which may have been waited for (another closure's moves): the minimum
        // notice of the windows a move may take is counted from this instant.
        const now = core.clock.now();
        whollyPast(now);
        const closure = await insertClosure(
          tx,
          {
            id: newId(now.toMillis()),
            date: input.date,
            start: input.start ?? null,
            end: input.end ?? null,
            reason: input.reason.trim(),
          },
          now.toJSDate(),
        );
        // Inside the closure, or on a window of the day that it shifts.
        const after = await listClosures(tx, input.date, input.date);
        const before = after.filter((c) => c.id !== closure.id);
        const covered = await displaced(tx, input.date, { before, after }, period);
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
        const asapWaiting = await queuedAsapInPeriod(tx, period.from.toJSDate(), period.to.toJSDate());
        return { closure, moved, notMoved, retriesMoved: retries.moved, asapWaiting, outboxIds };
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
        asapWaiting: result.asapWaiting,
      };
    },

    /**
     * Deletes a closure. The day's windows are cut again without it: the bookings made on
     * windows it had shifted move to the next free windows of the new cut (recorded in their
     * history), as a new closure moves them with moveBookings; the contract's DELETE answers 204.
     * A closure wholly over is kept (409 INVALID_TRANSITION), as creating one is refused.
     */
    async remove(id: string): Promise<void> {
      if (!isUuid(id)) throw new AppError('NOT_FOUND', 'Aucune fermeture ne porte cet identifiant.');
      const result = await core.db.transaction().execute(async (tx) => {
        await lockCalendarExclusive(tx);
        const now = core.clock.now(); // after the lock, which may have been waited for
        const gone = await deleteClosure(tx, id);
        if (!gone) return null;
        // Kept, as a new one is refused: it is part of the published hours of days served.
        // (Thrown inside the transaction: the deletion is rolled back.)
        if ((endOf(gone)?.toMillis() ?? Infinity) <= now.toMillis())
          throw new AppError(
            'INVALID_TRANSITION',
            'Cette fermeture est entièrement passée : elle reste dans les horaires publiés des jours concernés.',
          );
        const after = await listClosures(tx, gone.date, gone.date);
        return moveAll(tx, await displaced(tx, gone.date, { before: [...after, gone], after }), id, now);
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
