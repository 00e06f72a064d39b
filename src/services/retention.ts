import { anonymiseEnded } from '../repositories/retention.js';
import type { Core } from './core.js';

/** Callbacks are anonymised RETENTION_DAYS after they end (completed, failed or cancelled). */
export function createRetentionService(core: Core) {
  return {
    async run(): Promise<number> {
      const now = core.clock.now();
      const before = now.minus({ days: core.config.retentionDays }).toJSDate();
      let total = 0;
      for (;;) {
        const n = await anonymiseEnded(core.db, before, now.toJSDate(), 1000);
        total += n;
        if (n < 1000) return total;
      }
    },
  };
}
