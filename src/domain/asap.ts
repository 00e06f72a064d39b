import type { DateTime } from 'luxon';

/**
 * The "rappel sous 45 minutes" promise.
 *
 * Model: the informateurs of the domain who are available now work the domain's line in
 * parallel, one call at a time, each call taking about `averageCallMinutes`. The callbacks
 * already waiting (queued or on a desk) are served first, spread evenly over the available
 * informateurs, so the new request starts after `floor(waiting / available)` calls of the
 * informateur who frees first:
 *
 *   estimatedCallAt = now + floor(waiting / available) × averageCallMinutes
 *
 * The request is accepted only if someone is available now and estimatedCallAt falls strictly
 * before both the end of the promise (now + promiseMinutes) and the closing time of the
 * current opening interval. Being pessimistic here costs a citizen a slot proposal; being
 * optimistic costs a broken promise, so the average call length errs long.
 *
 * Informateurs may cover several domains, and then take the calls of all of them: the
 * estimate is also made over the pool, every callback waiting in any domain of the domain's
 * available informateurs spread over every available informateur of those domains (`pool`), and
 * the later of the two estimates is kept. Counted by each domain alone, 8 informateurs of travail
 * and logement accepted 40 asap requests in each, 100 minutes of calls for a 45-minute promise.
 * With each informateur in one domain, the pool is the domain.
 */
export const AVERAGE_CALL_MINUTES = 10;

export interface AsapInput {
  now: DateTime;
  /** End of the opening interval containing now, or null when the centre is closed now. */
  closingAt: DateTime | null;
  /** The domain's available informateurs. */
  availableInformateurs: number;
  waitingCallbacks: number;
  /** The callbacks waiting in the domains of the domain's available informateurs, and every available informateur of those domains. */
  pool?: { informateurs: number; waitingCallbacks: number };
  promiseMinutes: number;
  averageCallMinutes?: number;
}

export type AsapDecision =
  | { ok: true; estimatedCallAt: DateTime; window: { start: DateTime; end: DateTime } }
  | {
      ok: false;
      reason: 'closed' | 'nobody_available' | 'promise_exceeded' | 'closing_soon';
      estimatedCallAt?: DateTime;
    };

export function decideAsap(input: AsapInput): AsapDecision {
  const { now, closingAt, availableInformateurs, waitingCallbacks, promiseMinutes } = input;
  if (closingAt === null || closingAt.toMillis() <= now.toMillis()) return { ok: false, reason: 'closed' };
  if (availableInformateurs <= 0) return { ok: false, reason: 'nobody_available' };
  const avg = input.averageCallMinutes ?? AVERAGE_CALL_MINUTES;
  const rounds = Math.max(
    Math.floor(Math.max(0, waitingCallbacks) / availableInformateurs),
    input.pool && input.pool.informateurs > 0
      ? Math.floor(Math.max(0, input.pool.waitingCallbacks) / input.pool.informateurs)
      : 0,
  );
  const estimatedCallAt = now.plus({ minutes: rounds * avg });
  const promiseEnd = now.plus({ minutes: promiseMinutes });
  if (estimatedCallAt.toMillis() >= promiseEnd.toMillis())
    return { ok: false, reason: 'promise_exceeded', estimatedCallAt };
  if (estimatedCallAt.toMillis() >= closingAt.toMillis())
    return { ok: false, reason: 'closing_soon', estimatedCallAt };
  const end = promiseEnd.toMillis() <= closingAt.toMillis() ? promiseEnd : closingAt;
  return { ok: true, estimatedCallAt, window: { start: now, end } };
}

/**
 * Past this many waiting callbacks the decision is "promise exceeded" whatever the exact
 * number: floor(waiting / available) × average ≥ promise once waiting ≥ available × ⌈promise / average⌉.
 */
export function waitingThatMatters(
  availableInformateurs: number,
  promiseMinutes: number,
  averageCallMinutes = AVERAGE_CALL_MINUTES,
): number {
  return Math.max(1, availableInformateurs * Math.ceil(promiseMinutes / averageCallMinutes));
}
