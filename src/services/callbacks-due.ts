import { QUEUE_DUE_BATCH, queueIfDue, queuedDomainOf } from '../repositories/callbacks-due.js';
import type { Core } from './core.js';

/** Moving scheduled callbacks to the queue when their time comes (job or reconciler). */
export function createDueService(core: Core) {
  /** One statement: the callbacks moved and their events (domains of those that moved). */
  async function queueDue(ids: string[] | null, domains?: string[]): Promise<string[]> {
    const moved = await queueIfDue(core.db, ids, core.clock.now().toJSDate(), QUEUE_DUE_BATCH, domains);
    return moved.map((m) => m.domain);
  }

  /** Every due callback of `domains` (or all), in batches until none is left. */
  async function queueAllDue(domains?: string[]): Promise<string[]> {
    const moved: string[] = [];
    for (let batch = 0; batch < 1000; batch++) {
      const some = await queueDue(null, domains);
      moved.push(...some);
      if (some.length < QUEUE_DUE_BATCH) break;
    }
    return moved;
  }

  /**
   * A timer that fires a little early (clock skew between processes, timer granularity) waits
   * out the rest, up to 10 s, instead of leaving the call to the next reconcile sweep. Returns
   * whether it waited.
   */
  async function waitUntilDue(dueAtIso: string): Promise<boolean> {
    const wait = Date.parse(dueAtIso) - core.clock.now().toMillis();
    if (!(wait > 0 && wait <= 10_000)) return false;
    await new Promise((r) => setTimeout(r, wait));
    return true;
  }
  return {
    /**
     * Handler of 'callback-due': idempotent, a no-op when the job fires twice or after the
     * callback changed. Returns the domains to signal for a push: the callback's if it is queued,
     * whether this run moved it or a run before did (a run that died between the move and its
     * signal is run again, and would otherwise leave the push to the next sweep).
     */
    markDue: async (callbackId: string, dueAtIso?: string): Promise<string[]> => {
      let moved = await queueDue([callbackId]);
      if (moved.length === 0 && dueAtIso !== undefined && (await waitUntilDue(dueAtIso)))
        moved = await queueDue([callbackId]);
      if (moved.length > 0) return moved;
      const queued = await queuedDomainOf(core.db, callbackId);
      return queued === null ? [] : [queued];
    },
    /**
     * Handler of 'window-due': the domain's due callbacks, the window's bookings among them
     * (those moved elsewhere since are not due, and have their own job). Idempotent. It waits
     * first when early: other callbacks of the domain may be due already, not the window's.
     * Rows another transaction holds are skipped (a closure being added locks the day's
     * bookings): the reconcile sweep, or an informateur's pull, queues them.
     */
    markWindowDue: async (domain: string, dueAtIso: string): Promise<string[]> => {
      await waitUntilDue(dueAtIso);
      return queueAllDue([domain]);
    },
    /**
     * Every overdue scheduled callback, whether or not its job survived, in batches (one
     * transaction each) until none is left: after a flushed Redis, thousands may be overdue, and
     * one batch per 30 s sweep left most of them waiting for later sweeps.
     */
    queueOverdue: (): Promise<string[]> => queueAllDue(),
  };
}
