import type { Core } from './core.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { DispatchService } from './dispatch.js';
import { DOMAIN_CODES } from '../domain/domains.js';
import { purgeExpiredKeys } from '../repositories/idempotency.js';
import { purgeExpired } from '../repositories/rate-limits.js';
import { isUnavailableError } from '../http/errors.js';

export interface SweepReport {
  relayed: number;
  requeued: number;
  leasesReleased: number;
  carriedOver: number;
  dispatched: number;
}

/**
 * Repairs what a lost or flushed queue forgot, from PostgreSQL alone: relays unsent outbox
 * rows, queues every scheduled callback whose due time has passed (its timer may be gone),
 * releases expired leases, carries the queue over after closing, and dispatches each domain.
 * Every step is an indexed statement over the few rows that need it, so it stays cheap
 * whatever the size of the callbacks table.
 */
export function createReconciler(
  core: Core,
  relay: OutboxRelay,
  due: { queueOverdue(): Promise<string[]> },
  dispatch: DispatchService,
  housekeeping: () => Promise<{ leasesReleased: number; carriedOver: number }>,
) {
  return {
    async sweep(): Promise<SweepReport> {
      // The queue unreachable, its rows wait for a later sweep: the rest, PostgreSQL alone, still
      // runs (the worker sweeps from its own timer while the queue is down, runner.ts).
      // Another failure (PostgreSQL, a script error) fails the sweep, once the rest has run.
      let relayed = 0;
      let relayError: unknown = null;
      try {
        relayed = await relay.relay();
      } catch (err) {
        if (!isUnavailableError(err)) relayError = err;
        else
          core.log.warn(
            { err: { message: (err as Error).message } },
            'outbox relay deferred: queue unreachable',
          );
      }
      const requeued = (await due.queueOverdue()).length;
      const { leasesReleased, carriedOver } = await housekeeping();
      let dispatched = 0;
      for (const d of DOMAIN_CODES) dispatched += await dispatch.dispatchDomain(d);
      const now = core.clock.now().toJSDate();
      await relay.purge();
      await purgeExpiredKeys(core.db, now);
      await purgeExpired(core.db, now);
      if (relayError !== null) throw relayError;
      return { relayed, requeued, leasesReleased, carriedOver, dispatched };
    },
  };
}
