import type { Core } from './core.js';
import type { OutboxRelay } from './outbox-relay.js';

/**
 * Repairs what a lost or flushed queue forgot, from PostgreSQL alone: relays unsent outbox
 * rows and queues every scheduled callback whose due time has passed (its timer may be gone).
 * Each step is an indexed statement over the few rows that need it, cheap at any table size.
 */
export function createReconciler(_core: Core, relay: OutboxRelay, due: { queueOverdue(): Promise<number> }) {
  return {
    async sweep(): Promise<{ relayed: number; requeued: number }> {
      const relayed = await relay.relay();
      const requeued = await due.queueOverdue();
      await relay.purge();
      return { relayed, requeued };
    },
  };
}
