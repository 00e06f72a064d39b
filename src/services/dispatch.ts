import type { DateTime } from 'luxon';
import { isTransientConflict } from '../db/conflicts.js';
import { queueIfDue } from '../repositories/callbacks-due.js';
import { pullDesk, type AgentRef, type PullResult } from '../repositories/dispatch.js';
import { assignHeadToIdlest } from '../repositories/push.js';
import type { Core } from './core.js';
import type { CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { DispatchMetrics } from './metrics.js';
import { deskView, type DeskCallback } from './desk-view.js';
import { asRef, createOutcomeReporter, unauthorized } from './outcome.js';

export type { DeskCallback } from './desk-view.js';
export type { AgentRef } from '../repositories/dispatch.js';

export type { Outcome } from './outcome.js';

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
  async function signalDispatch(domains: Iterable<string>, opts: { afterMs?: number } = {}): Promise<void> {
    // afterMs: the run of the bucket that ends at least that late. From a run itself, at least
    // one bucket: its own jobId (this bucket's, if this process's clock is a little behind the
    // one that signalled) would be taken and the signal dropped.
    const wall = Date.now();
    const bucket = Math.floor((wall + (opts.afterMs ?? 0)) / DISPATCH_BUCKET_MS);
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
        // one-desk index refused the second one, nothing was written (or, their outcome being
        // written, PostgreSQL broke the deadlock by rolling us back). Informateurs are pulling
        // by themselves: racing them costs both sides a statement, so this run stops and the
        // next bucket's run looks again for those who wait.
        if (deskConflict(err) || isTransientConflict(err)) {
          await signalDispatch([domain], { afterMs: DISPATCH_BUCKET_MS });
          break;
        }
        throw err;
      }
      if (!a.assigned) {
        // Informateurs who have just freed their desk and not pulled yet: looked at again once
        // their grace is over, if they are still waiting then.
        if (a.graceEndsInMs !== null)
          await signalDispatch([domain], { afterMs: Math.max(a.graceEndsInMs, DISPATCH_BUCKET_MS) });
        break;
      }
      metrics.observeDispatch(now.toMillis() - a.assigned.dueAt.getTime());
      assigned++;
    }
    return assigned;
  }

  const reportOutcome = createOutcomeReporter(core, calendar, outbox, metrics, signalDispatch);

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
      // One connection for the tries: a try asked again does not wait its turn in the pool a
      // second time behind every other request (that wait made the slowest pulls' latency).
      return core.db.connection().execute(async (db) => {
        let overdueFirst = true;
        for (let tries = 1; ; tries++) {
          const now = core.clock.now();
          let pulled: PullResult;
          try {
            pulled = await pullDesk(db, ref, now.toJSDate(), leaseUntil(now), overdueFirst);
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
            await queueIfDue(db, null, now.toJSDate(), PULL_PROMOTE_LIMIT, pulled.agent.domains);
            overdueFirst = false;
            continue;
          }
          if (!pulled.contended || tries >= CLAIM_TRIES) return null;
        }
      });
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

    /** See outcome.ts. */
    reportOutcome,
  };
}

export type DispatchService = ReturnType<typeof createDispatchService>;
