import { QUEUE_DUE_BATCH, queueIfDue } from '../repositories/callbacks-due.js';
import type { Core } from './core.js';

/** Moving scheduled callbacks to the queue when their time comes (job or reconciler). */
export function createDueService(core: Core) {
  /** One statement: the callbacks moved and their events (domains of those that moved). */
  async function queueDue(ids: string[] | null): Promise<string[]> {
    const moved = await queueIfDue(core.db, ids, core.clock.now().toJSDate());
    return moved.map((m) => m.domain);
  }
  return {
    /**
     * Handler of 'callback-due': idempotent, a no-op when the job fires twice or after the
     * callback changed. A timer that fires a little early (clock skew between processes, timer
     * granularity) waits out the rest instead of leaving the call to the next reconcile sweep.
     */
    markDue: async (callbackId: string, dueAtIso?: string): Promise<string[]> => {
      const moved = await queueDue([callbackId]);
      if (moved.length > 0 || dueAtIso === undefined) return moved;
      const wait = Date.parse(dueAtIso) - core.clock.now().toMillis();
      if (!(wait > 0 && wait <= 10_000)) return moved;
      await new Promise((r) => setTimeout(r, wait));
      return queueDue([callbackId]);
    },
    /**
     * Every overdue scheduled callback, whether or not its job survived, in batches (one
     * transaction each) until none is left: after a flushed Redis, thousands may be overdue, and
     * one batch per 30 s sweep left most of them waiting for later sweeps.
     */
    queueOverdue: async (): Promise<string[]> => {
      const domains: string[] = [];
      for (let batch = 0; batch < 1000; batch++) {
        const moved = await queueDue(null);
        domains.push(...moved);
        if (moved.length < QUEUE_DUE_BATCH) break;
      }
      return domains;
    },
  };
}
