import { recordEvents } from '../repositories/callback-events.js';
import { queueIfDue } from '../repositories/callbacks-due.js';
import type { Core } from './core.js';

/** Moving scheduled callbacks to the queue when their time comes (job or reconciler). */
export function createDueService(core: Core) {
  async function queueDue(ids: string[] | null): Promise<string[]> {
    return core.db.transaction().execute(async (tx) => {
      const now = core.clock.now().toJSDate();
      const moved = await queueIfDue(tx, ids, now);
      await recordEvents(
        tx,
        moved.map((m) => ({
          callbackId: m.id,
          type: 'queued',
          fromStatus: 'scheduled',
          toStatus: 'queued',
          actor: 'system',
          at: now,
        })),
      );
      return moved.map((m) => m.domain);
    });
  }
  return {
    /** Handler of 'callback-due': idempotent, a no-op when the job fires twice or early. */
    markDue: (callbackId: string) => queueDue([callbackId]),
    /** Every overdue scheduled callback, whether or not its job survived. */
    queueOverdue: () => queueDue(null),
  };
}
