import { recordEvents } from '../repositories/callback-events.js';
import { carryOverQueued, releaseExpiredLeases } from '../repositories/dispatch.js';
import type { CalendarService } from './calendar.js';
import type { Core } from './core.js';

/** The desk's timers, run by the reconciler's sweep. */
export function createHousekeeping(
  core: Core,
  calendar: CalendarService,
  signalDispatch: (domains: Iterable<string>) => Promise<void>,
) {
  /** Expired leases back to the queue (informateurs paused); queued callbacks carried over past a closing. */
  async function housekeeping(): Promise<{ leasesReleased: number; carriedOver: number }> {
    const now = core.clock.now();
    const released = await core.db.transaction().execute(async (tx) => {
      const r = await releaseExpiredLeases(tx, now.toJSDate());
      await recordEvents(
        tx,
        r.map((x) => ({
          callbackId: x.id,
          type: 'lease_expired',
          fromStatus: 'assigned',
          toStatus: 'queued',
          actor: 'system',
          at: now.toJSDate(),
          data: { agentId: x.agentId },
        })),
      );
      return r;
    });
    // Closed: what is still queued is carried over. Open: what was due before this opening
    // began and is still queued (a closing the sweep never saw, the service being down then).
    const interval = await calendar.openIntervalAt(core.db, now);
    const carried = await carryOverQueued(
      core.db,
      now.toJSDate(),
      interval ? interval.start.toJSDate() : null,
    );
    if (released.length > 0) await signalDispatch(released.map((r) => r.domain));
    return { leasesReleased: released.length, carriedOver: carried };
  }
  return housekeeping;
}
