import type { DateTime } from 'luxon';
import { addDays, OPEN_SEARCH_DAYS, todayIn } from '../domain/calendar/index.js';
import { normaliseReference } from '../domain/reference.js';
import { decideRetry } from '../domain/retry.js';
import { retryingConflicts } from '../db/conflicts.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../http/errors.js';
import { callbackDueJob } from '../queue/jobs.js';
import { wasAssignedTo } from '../repositories/callback-events.js';
import { findByReference } from '../repositories/callbacks.js';
import { listClosures, lockCalendarShared } from '../repositories/closures.js';
import { enqueueOutbox } from '../repositories/outbox.js';
import type { AgentRef } from '../repositories/dispatch.js';
import { PUSH_GRACE_MS } from '../repositories/push.js';
import { applyOutcome, type OutcomeResult, type OutcomeUpdate } from '../repositories/outcome.js';
import type { CalendarService } from './calendar.js';
import type { Core } from './core.js';
import { deskView, iso, type DeskCallback } from './desk-view.js';
import type { DispatchMetrics } from './metrics.js';
import type { OutboxRelay } from './outbox-relay.js';

export type Outcome = 'reached' | 'no_answer' | 'wrong_number' | 'redirected';

/**
 * Why `redirectedTo` does not fit the outcome, or null. The contract makes it optional: a
 * redirection may name where the citizen was sent, or not (an informateur in the middle of a
 * call may leave it to the note); any other outcome has none (refused rather than dropped
 * without a word).
 */
function redirectionMisfit(outcome: Outcome, redirectedTo: string | undefined): string | null {
  if (outcome !== 'redirected' && redirectedTo !== undefined)
    return '« redirectedTo » ne vaut que pour une réorientation (« outcome » : « redirected ») ; la note peut garder le reste.';
  return null;
}

/** An informateur by id (jobs, tests) or as `AgentRef` (the desk routes, by token hash). */
export const asRef = (who: AgentRef | string): AgentRef => (typeof who === 'string' ? { agentId: who } : who);

/** An informateur's token nobody holds (any more: replaced, or the account deactivated). */
export const UNKNOWN_AGENT_TOKEN =
  "Ce jeton d'informateur n'est pas reconnu : jeton inconnu, remplacé, ou compte désactivé par l'exploitation.";

export function unauthorized(who: AgentRef): AppError {
  return 'tokenHash' in who
    ? new AppError('UNAUTHORIZED', UNKNOWN_AGENT_TOKEN)
    : new AppError('UNAUTHORIZED', "Ce compte d'informateur n'est plus actif.");
}

/**
 * Why an outcome's compare-and-set did not apply, in the order the contract decides it. Only
 * the informateur who holds the callback, or held it (their lease ran out, they went offline,
 * they already reported), is told its state (409 with its status); to anyone else it is the
 * callback of another informateur (403), whatever its state: a reference is not a way to
 * follow a citizen's request from another desk.
 */
async function outcomeRefusal(db: Db, who: AgentRef, reference: string, r: OutcomeResult): Promise<AppError> {
  if (!r.agent) return unauthorized(who);
  if (!r.prior) return new AppError('NOT_FOUND', 'Aucune demande de rappel ne porte cette référence.');
  const held = r.prior.assignedAgentId === r.agent.id || (await wasAssignedTo(db, r.prior.id, r.agent.id));
  if (!held) return new AppError('FORBIDDEN', "Ce rappel n'est pas attribué à cet informateur.");
  if (r.prior.status !== 'assigned')
    return new AppError('INVALID_TRANSITION', "Ce rappel n'est pas en cours d'appel.", {
      callbackStatus: r.prior.status,
    });
  if (r.prior.assignedAgentId !== r.agent.id)
    return new AppError('FORBIDDEN', 'Ce rappel est attribué à un autre informateur.');
  // Theirs when the statement began, changed meanwhile (their own outcome sent twice at once,
  // a lease released): its state as it is now.
  const current = await findByReference(db, reference);
  return new AppError(
    'INVALID_TRANSITION',
    "Ce rappel vient de changer d'état ; réessayez.",
    current ? { callbackStatus: current.status } : {},
  );
}

/**
 * The informateur's side of a call once it is made: the outcome, its retry if unanswered, and
 * the dispatch signal for the desk it frees.
 */
export function createOutcomeReporter(
  core: Core,
  calendar: CalendarService,
  outbox: OutboxRelay,
  metrics: DispatchMetrics,
  signalDispatch: (domains: Iterable<string>, opts?: { afterMs?: number }) => Promise<void>,
) {
  const { config } = core;

  /** What an answered or wrong-number call writes: nothing to read first. */
  function finalUpdate(outcome: Exclude<Outcome, 'no_answer'>): Omit<OutcomeUpdate, 'redirectedTo'> {
    return outcome === 'wrong_number'
      ? { status: 'failed', outcome, dueAt: null }
      : { status: 'completed', outcome, dueAt: null };
  }

  /**
   * A no-answer's decision depends on the attempts made, read first and then checked by the
   * compare-and-set (which also re-checks everything else), and on the closures: read under
   * the calendar lock (shared), so a closure being added either is read here or waits for this
   * transaction and then moves the retry it wrote.
   */
  async function retryUpdate(
    tx: Db,
    reference: string,
    now: DateTime,
  ): Promise<{ update: Omit<OutcomeUpdate, 'redirectedTo'>; expectAttempts: number }> {
    await lockCalendarShared(tx);
    const from = todayIn(now);
    const to = addDays(from, OPEN_SEARCH_DAYS + 1); // the search starts today or, late, tomorrow
    const closures = await listClosures(tx, from, to);
    const current = reference ? await findByReference(tx, reference) : null;
    const attempts = current?.attempts ?? 0;
    const decision = decideRetry(
      attempts + 1,
      now,
      { maxAttempts: config.maxAttempts, retryDelayMinutes: config.retryDelayMinutes },
      calendar.settings,
      closures,
    );
    return {
      update:
        decision.kind === 'retry'
          ? { status: 'scheduled', outcome: 'no_answer', dueAt: decision.at.toJSDate() }
          : { status: 'failed', outcome: 'unreachable', dueAt: null },
      expectAttempts: attempts,
    };
  }

  /**
   * An outcome reported by the informateur the callback is assigned to: one statement (a
   * no-answer first reads the attempts and the closures, and writes its retry's outbox row
   * in the same transaction as the outcome).
   */
  async function reportOutcome(
    who: AgentRef | string,
    reference: string,
    outcome: Outcome,
    redirectedTo: string | undefined,
    note: string | undefined,
  ): Promise<DeskCallback> {
    const ref = asRef(who);
    const misfit = redirectionMisfit(outcome, redirectedTo);
    // Judged once the token is known: the route's error handler (agentErrorHandler) answers
    // 401/403 first for a refusal of the request's shape.
    if (misfit) throw new AppError('VALIDATION_ERROR', misfit);
    // A malformed reference matches no callback: NOT_FOUND, once the informateur is known.
    const normalised = normaliseReference(reference) ?? '';
    const now = core.clock.now();
    const redirected = (outcome === 'redirected' && redirectedTo?.trim()) || null;
    const write = (db: Db, update: Omit<OutcomeUpdate, 'redirectedTo'>, expectAttempts?: number) =>
      applyOutcome(
        db,
        ref,
        normalised,
        { ...update, redirectedTo: redirected },
        {
          reported: outcome,
          extra: {
            ...(update.outcome === 'unreachable' ? { unreachable: true } : {}),
            ...(redirected ? { redirectedTo: redirected } : {}),
            ...(note?.trim() ? { note: note.trim() } : {}),
            ...(update.dueAt ? { nextAttemptAt: iso(update.dueAt) } : {}),
          },
        },
        now.toJSDate(),
        expectAttempts,
      );
    const outboxIds: number[] = [];
    let written: Omit<OutcomeUpdate, 'redirectedTo'> | undefined;
    // A push dispatch can hold this informateur's row while it waits on the callback this
    // outcome is changing: PostgreSQL breaks that deadlock by rolling one of them back. Rolled
    // back, the outcome wrote nothing and is asked again (a no-answer decides again).
    const result = await retryingConflicts(() => {
      if (outcome !== 'no_answer') return write(core.db, (written = finalUpdate(outcome)));
      return core.db.transaction().execute(async (tx) => {
        outboxIds.length = 0;
        const { update, expectAttempts } = await retryUpdate(tx, normalised, now);
        written = update;
        const r = await write(tx, update, expectAttempts);
        const dueAt = update.dueAt;
        if (r.updated && dueAt) {
          outboxIds.push(await enqueueOutbox(tx, callbackDueJob(r.updated.id, dueAt), now.toJSDate()));
        }
        return r;
      });
    });
    if (!result.updated || !result.agent) throw await outcomeRefusal(core.db, ref, normalised, result);
    metrics.countOutcome(result.updated.domain, written!.outcome);
    await outbox.relayNow(outboxIds);
    // Push looks at the freed desk once the informateur's grace to pull by themselves is over.
    await signalDispatch(result.agent.domains, { afterMs: PUSH_GRACE_MS });
    return deskView(result.updated);
  }

  return reportOutcome;
}
