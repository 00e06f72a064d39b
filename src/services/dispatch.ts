import type { DateTime } from 'luxon';
import { todayIn, ZONE } from '../domain/calendar/index.js';
import { decideRetry } from '../domain/retry.js';
import { AppError } from '../http/errors.js';
import { findByReference } from '../repositories/callbacks.js';
import { listClosures } from '../repositories/closures.js';
import { queueIfDue } from '../repositories/callbacks-due.js';
import { enqueueOutbox } from '../repositories/outbox.js';
import { activeAgentId } from '../repositories/agents.js';
import { assignHeadToIdlest, pullDesk, type AgentRef, type PullResult } from '../repositories/dispatch.js';
import { applyOutcome, type OutcomeResult, type OutcomeUpdate } from '../repositories/outcome.js';
import { normaliseReference } from '../domain/reference.js';
import { callbackDueJobId } from '../queue/jobs.js';
import type { Db } from '../db/schema.js';
import type { Core } from './core.js';
import type { CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { DispatchMetrics } from './metrics.js';
import { deskView, iso, type DeskCallback } from './desk-view.js';

export type { DeskCallback } from './desk-view.js';
export type { AgentRef } from '../repositories/dispatch.js';

export type Outcome = 'reached' | 'no_answer' | 'wrong_number' | 'redirected';

/**
 * Dispatch signals are coalesced per domain into buckets of this much wall-clock time: one
 * dispatch job per domain and bucket (deterministic jobId), run when the bucket ends, sees
 * every commit signalled during it. A burst of outcomes makes a few jobs per second, not one
 * each. Wall clock, not business time: it paces the workers, and a test's manual clock stands still.
 */
export const DISPATCH_BUCKET_MS = 100;
/** Run a bucket's job this long after it ends: a signal sent by a process whose clock is a little behind still finds it waiting. */
const DISPATCH_GRACE_MS = 20;
/** Overdue scheduled callbacks a pull queues at most (the reconciler queues the rest). */
const PULL_PROMOTE_LIMIT = 200;
/** A claim asked again at once, at most this many times, when concurrent claims raced it. */
const CLAIM_TRIES = 3;

const deskConflict = (err: unknown) => {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'callbacks_one_per_desk';
};

const asRef = (who: AgentRef | string): AgentRef => (typeof who === 'string' ? { agentId: who } : who);

function unauthorized(who: AgentRef): AppError {
  return 'tokenHash' in who
    ? new AppError('UNAUTHORIZED', "Ce jeton d'informateur n'est pas reconnu.")
    : new AppError('UNAUTHORIZED', "Ce compte d'informateur n'est plus actif.");
}

/** Why an outcome's compare-and-set did not apply, in the order the contract decides it. */
function outcomeRefusal(who: AgentRef, r: OutcomeResult): AppError {
  if (!r.agent) return unauthorized(who);
  if (!r.prior) return new AppError('NOT_FOUND', 'Aucune demande de rappel ne porte cette référence.');
  if (r.prior.status !== 'assigned')
    return new AppError('INVALID_TRANSITION', "Ce rappel n'est pas en cours d'appel.", {
      callbackStatus: r.prior.status,
    });
  if (r.prior.assignedAgentId !== r.agent.id)
    return new AppError('FORBIDDEN', 'Ce rappel est attribué à un autre informateur.');
  return new AppError('INVALID_TRANSITION', "Ce rappel vient de changer d'état ; réessayez.");
}

export function createDispatchService(
  core: Core,
  calendar: CalendarService,
  outbox: OutboxRelay,
  metrics: DispatchMetrics,
) {
  const { config } = core;
  const leaseUntil = (now: DateTime) => now.plus({ minutes: config.assignmentTimeoutMinutes }).toJSDate();
  /** domain -> the last bucket this process has sent a dispatch job for. */
  const signalled = new Map<string, number>();

  /**
   * Asks the workers to offer queued callbacks of these domains to idle informateurs: at most
   * one job per domain and bucket, and one call to the queue per bucket from this process.
   */
  async function signalDispatch(
    domains: Iterable<string>,
    opts: { nextBucket?: boolean } = {},
  ): Promise<void> {
    // nextBucket: from a run itself, whose own jobId (this bucket's, if this process's clock is
    // a little behind the one that signalled) would be taken and the signal dropped.
    const wall = Date.now();
    const bucket = Math.floor(wall / DISPATCH_BUCKET_MS) + (opts.nextBucket ? 1 : 0);
    const fresh = [...new Set(domains)].filter((d) => signalled.get(d) !== bucket);
    if (fresh.length === 0) return;
    for (const d of fresh) signalled.set(d, bucket);
    try {
      await core.queue.addBulk(
        fresh.map((domain) => ({
          name: 'dispatch',
          data: { domain },
          opts: {
            jobId: `dispatch-${domain}-${bucket}`,
            delay: (bucket + 1) * DISPATCH_BUCKET_MS + DISPATCH_GRACE_MS - wall,
            attempts: 3,
            // Removed once done: a signal that comes after the job ran (clock skew between
            // processes) adds it again instead of hitting a finished job and being dropped.
            removeOnComplete: true,
          },
        })),
      );
    } catch (err) {
      for (const d of fresh) if (signalled.get(d) === bucket) signalled.delete(d);
      // Not a loss: pull-next claims directly, and the reconciler dispatches every sweep.
      core.log.warn(
        { err: { message: (err as Error).message } },
        'dispatch signal deferred to the reconciler',
      );
    }
  }

  /** The push dispatch running (or queued) in this process, per domain. */
  const dispatching = new Map<string, Promise<number>>();

  async function dispatchLoop(domain: string): Promise<number> {
    let assigned = 0;
    for (let i = 0; i < 200; i++) {
      const now = core.clock.now();
      let a: Awaited<ReturnType<typeof assignHeadToIdlest>>;
      try {
        a = await assignHeadToIdlest(core.db, domain, now.toJSDate(), config.assignmentTimeoutMinutes);
      } catch (err) {
        // The informateur pulled a callback between our desk check and our lock: the
        // one-desk index refused the second one, nothing was written. Informateurs are pulling
        // by themselves: racing them costs both sides a statement, so this run stops and the
        // next bucket's run looks again for those who wait.
        if (deskConflict(err)) {
          await signalDispatch([domain], { nextBucket: true });
          break;
        }
        throw err;
      }
      if (!a) break;
      metrics.observeDispatch(now.toMillis() - a.dueAt.getTime());
      assigned++;
    }
    return assigned;
  }

  async function outcomeUpdate(
    outcome: Outcome,
    reference: string,
    now: DateTime,
  ): Promise<{ update: Omit<OutcomeUpdate, 'redirectedTo'>; expectAttempts?: number }> {
    if (outcome === 'reached' || outcome === 'redirected')
      return { update: { status: 'completed', outcome, dueAt: null } };
    if (outcome === 'wrong_number') return { update: { status: 'failed', outcome, dueAt: null } };
    // no_answer: the decision depends on the attempts made, read first and then checked by
    // the compare-and-set (which also re-checks everything else).
    const from = todayIn(now);
    const to = now.plus({ days: 400 }).setZone(ZONE).toISODate()!;
    const [closures, current] = await Promise.all([
      listClosures(core.db, from, to),
      reference ? findByReference(core.db, reference) : null,
    ]);
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
          ? { status: 'scheduled', outcome, dueAt: decision.at.toJSDate() }
          : { status: 'failed', outcome: 'unreachable', dueAt: null },
      expectAttempts: attempts,
    };
  }

  return {
    signalDispatch,

    /**
     * Pull next: what is on the informateur's desk, or the next queued callback of their
     * domains, claimed atomically; pulling makes the informateur available. One statement,
     * which also authenticates them. Overdue scheduled callbacks are queued first (then it
     * pulls again), so a late or lost timer never delays a call.
     */
    async pullNext(who: AgentRef | string): Promise<DeskCallback | null> {
      const ref = asRef(who);
      let overdueFirst = true;
      for (let tries = 1; ; tries++) {
        const now = core.clock.now();
        let pulled: PullResult;
        try {
          pulled = await pullDesk(core.db, ref, now.toJSDate(), leaseUntil(now), overdueFirst);
        } catch (err) {
          // A callback reached this desk meanwhile (push dispatch, another pull): nothing was
          // written; asked again, the desk is seen.
          if (deskConflict(err) && tries < CLAIM_TRIES) continue;
          throw err;
        }
        if (!pulled.agent) throw unauthorized(ref);
        if (pulled.callback) {
          if (pulled.fresh) metrics.observeDispatch(now.toMillis() - pulled.callback.dueAt.getTime());
          return deskView(pulled.callback);
        }
        if (pulled.overdue && overdueFirst) {
          await queueIfDue(core.db, null, now.toJSDate(), PULL_PROMOTE_LIMIT, pulled.agent.domains);
          overdueFirst = false;
          continue;
        }
        if (!pulled.contended || tries >= CLAIM_TRIES) return null;
      }
    },

    /**
     * Push dispatch for one domain, until no idle informateur or nothing queued is left. The
     * runs for one domain in this process follow each other: two at once would pick the same
     * idle informateurs from their snapshots and one of them would only meet the one-desk index.
     */
    dispatchDomain(domain: string): Promise<number> {
      const previous = dispatching.get(domain);
      const run = (previous ? previous.catch(() => 0) : Promise.resolve(0)).then(() => dispatchLoop(domain));
      dispatching.set(domain, run);
      const forget = () => {
        if (dispatching.get(domain) === run) dispatching.delete(domain);
      };
      run.then(forget, forget);
      return run;
    },

    /**
     * An outcome reported by the informateur the callback is assigned to: one statement (a
     * no-answer first reads the attempts and the closures, and writes its retry's outbox row
     * in the same transaction as the outcome).
     */
    async reportOutcome(
      who: AgentRef | string,
      reference: string,
      outcome: Outcome,
      redirectedTo: string | undefined,
      note: string | undefined,
    ): Promise<DeskCallback> {
      const ref = asRef(who);
      if (outcome === 'redirected' && !redirectedTo?.trim()) {
        // An unknown token is refused before the body is judged.
        if (!(await activeAgentId(core.db, ref))) throw unauthorized(ref);
        throw new AppError(
          'VALIDATION_ERROR',
          '« redirectedTo » est obligatoire pour une réorientation : vers quel service, association ou professionnel ?',
        );
      }
      // A malformed reference matches no callback: NOT_FOUND, once the informateur is known.
      const normalised = normaliseReference(reference) ?? '';
      const now = core.clock.now();
      const { update, expectAttempts } = await outcomeUpdate(outcome, normalised, now);
      const redirected = outcome === 'redirected' ? redirectedTo!.trim() : null;
      const extra = {
        ...(update.outcome === 'unreachable' ? { unreachable: true } : {}),
        ...(redirected ? { redirectedTo: redirected } : {}),
        ...(note?.trim() ? { note: note.trim() } : {}),
        ...(update.dueAt ? { nextAttemptAt: iso(update.dueAt) } : {}),
      };
      const write = (db: Db) =>
        applyOutcome(
          db,
          ref,
          normalised,
          { ...update, redirectedTo: redirected },
          { reported: outcome, extra },
          now.toJSDate(),
          expectAttempts,
        );
      const outboxIds: number[] = [];
      const dueAt = update.dueAt;
      const result = dueAt
        ? await core.db.transaction().execute(async (tx) => {
            const r = await write(tx);
            if (r.updated) {
              outboxIds.push(
                await enqueueOutbox(
                  tx,
                  {
                    jobName: 'callback-due',
                    jobId: callbackDueJobId(r.updated.id, dueAt),
                    payload: { callbackId: r.updated.id, dueAt: dueAt.toISOString() },
                    runAt: dueAt,
                  },
                  now.toJSDate(),
                ),
              );
            }
            return r;
          })
        : await write(core.db);
      if (!result.updated || !result.agent) throw outcomeRefusal(ref, result);
      metrics.countOutcome(result.updated.domain, update.outcome);
      await outbox.relayNow(outboxIds);
      await signalDispatch(result.agent.domains);
      return deskView(result.updated);
    },
  };
}

export type DispatchService = ReturnType<typeof createDispatchService>;
