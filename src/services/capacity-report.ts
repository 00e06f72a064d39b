import { DateTime } from 'luxon';
import { windowCapacity } from '../domain/capacity.js';
import { DOMAIN_CODES } from '../domain/domains.js';
import { countActiveInDomain } from '../repositories/agents.js';
import { windowsOverCapacity } from '../repositories/window-load.js';
import { isoParis, type Core } from './core.js';

/**
 * A window to come left with more bookings than places by an ops change: an informateur
 * deactivated or given other domains, a lower CALLBACKS_PER_AGENT_PER_SLOT (README, "Fewer
 * informateurs than bookings"). `references`: its first bookings still to call.
 */
export interface WindowOverCapacityView {
  domain: string;
  start: string;
  booked: number;
  capacity: number;
  references: string[];
}

/** At most this many windows, each with at most this many references (`booked` counts all). */
export const REPORT_LIMITS = { maxWindows: 100, maxReferences: 20 };

/** The windows to come holding more bookings than the active informateurs give places. */
export async function windowsOverCapacityNow(core: Core): Promise<WindowOverCapacityView[]> {
  const capacities = await Promise.all(
    DOMAIN_CODES.map(async (domain) => ({
      domain,
      capacity: windowCapacity(
        { activeInformateurs: await countActiveInDomain(core.db, domain) },
        core.config.callbacksPerAgentPerSlot,
      ),
    })),
  );
  const over = await windowsOverCapacity(core.db, core.clock.now().toJSDate(), capacities, REPORT_LIMITS);
  return over.map((w) => ({
    domain: w.domain,
    start: isoParis(DateTime.fromJSDate(w.windowStart)),
    booked: w.booked,
    capacity: w.capacity,
    references: w.references,
  }));
}

/** How many windows, and bookings over their places, a report holds (for the log). */
export function tally(over: WindowOverCapacityView[]): { windows: number; excess: number; first?: string } {
  return {
    windows: over.length,
    excess: over.reduce((n, w) => n + w.booked - w.capacity, 0),
    first: over[0]?.start,
  };
}
