import type { QueueHandle } from '../queue/connection.js';
import { lockUnsent, markSent, purgeSent } from '../repositories/outbox.js';
import type { Core } from './core.js';

/**
 * Turns outbox rows into BullMQ jobs. The row was committed with the state change; the job is
 * added with a deterministic jobId, then the row is marked sent. A crash between the two only
 * re-sends the row later, and BullMQ (same jobId) or the idempotent handler absorbs it.
 */
export function createOutboxRelay(core: Core, queue: QueueHandle) {
  async function relay(onlyIds?: number[]): Promise<number> {
    if (onlyIds && onlyIds.length === 0) return 0; // nothing written: no transaction at all
    let total = 0;
    for (;;) {
      const sent = await core.db.transaction().execute(async (tx) => {
        const rows = await lockUnsent(tx, 500, onlyIds);
        if (rows.length === 0) return 0;
        const now = core.clock.now().toMillis();
        await queue.addBulk(
          rows.map((r) => ({
            name: r.jobName,
            data: r.payload,
            opts: { jobId: r.jobId, delay: Math.max(0, r.runAt.getTime() - now) },
          })),
        );
        await markSent(
          tx,
          rows.map((r) => r.id),
          core.clock.now().toJSDate(),
        );
        return rows.length;
      });
      total += sent;
      if (sent < 500 || onlyIds) return total;
    }
  }
  return {
    relay,
    /** Best effort right after a commit; the reconciler relays whatever this misses. */
    async relayNow(ids: number[]): Promise<void> {
      try {
        await relay(ids);
      } catch (err) {
        core.log.warn(
          { err: { message: (err as Error).message } },
          'outbox relay deferred to the reconciler',
        );
      }
    },
    purge: () => purgeSent(core.db, core.clock.now().minus({ days: 1 }).toJSDate()),
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
