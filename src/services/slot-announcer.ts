import type { Db } from '../db/schema.js';
import type { Logger } from 'pino';
import { loggableError } from '../logger.js';
import { announceSlotChanges } from '../repositories/window-load.js';
import { SLOTS_CHANNEL } from './slot-cache.js';

/** Longest a booking's announcement waits for others to go with it. */
const COALESCE_MS = 20;

export interface SlotAnnouncer {
  /** A committed change of `domain`'s booked counts that its transaction did not announce. */
  changed(domain: string): void;
  /** Sends what is pending now (shutdown). */
  flush(): Promise<void>;
}

/**
 * Announces bookings' window changes to every API process's slot cache after their commit,
 * at most one NOTIFY transaction per COALESCE_MS: a NOTIFY inside each booking serialised the
 * bookings' commits (migrations/0004). Until it arrives, another process may list a window
 * with one place too many: COALESCE_MS plus the wait for a pooled connection under load; if it
 * is lost (this process dies, the statement fails: not retried), until that process's cached
 * list expires (SLOTS_CACHE_MS). A booking itself is always checked against the database.
 */
export function createSlotAnnouncer(db: Db, log: Logger): SlotAnnouncer {
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();

  function send(): Promise<void> {
    timer = null;
    if (pending.size === 0) return inFlight;
    const domains = [...pending];
    pending.clear();
    inFlight = inFlight
      .then(() => announceSlotChanges(db, SLOTS_CHANNEL, domains))
      .catch((err: Error) => {
        // The caches of other processes then hold their lists until these expire.
        log.warn({ err: loggableError(err), domains }, 'slot change announcement failed');
      });
    return inFlight;
  }

  return {
    changed(domain) {
      pending.add(domain);
      timer ??= setTimeout(() => void send(), COALESCE_MS);
    },
    async flush() {
      if (timer) clearTimeout(timer);
      await send();
    },
  };
}
