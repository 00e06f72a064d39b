import path from 'node:path';
import { countByStatus, seedFinished, seedScheduled, tableSizesMb, settleDatabase } from './database.js';
import { explainHotStatements } from './explain.js';
import { businessNow, refillQueue, takeSeeds, type Run } from './phases.js';
import { CALLBACKS_PER_AGENT_PER_SLOT, DOMAIN } from './settings.js';

export interface TableState {
  callbacks: Record<string, number>;
  sizesMb: Record<string, number>;
}

export async function tableState(run: Run): Promise<TableState> {
  return { callbacks: await countByStatus(run.pool), sizesMb: await tableSizesMb(run.pool) };
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * Grows the tables to `target` callbacks the way months of service would leave them: 2 % booked
 * ahead (scheduled), the pull-next queue as before, and the rest finished over the last 180 days
 * (older than the retention: anonymised), with their events and window load. Returns seconds.
 */
export async function growTables(run: Run, target: number): Promise<number> {
  const started = Date.now();
  const now = businessNow(run).toISOString();
  const scheduled = Math.round(target * 0.02);
  await seedScheduled(run.pool, takeSeeds(run, scheduled), scheduled, run.slotStarts, now);
  await refillQueue(run);
  let missing = target - total(await countByStatus(run.pool));
  while (missing > 0) {
    const batch = Math.min(missing, 250_000);
    await seedFinished(run.pool, takeSeeds(run, batch), batch, now);
    missing -= batch;
    console.log(`  … ${target - missing} callbacks`);
  }
  await settleDatabase(run.pool);
  return Math.round((Date.now() - started) / 100) / 10;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the hot statements against the tables as they are now. */
export async function explainNow(run: Run, file: string): Promise<void> {
  const active = await run.pool.query<{ phone: string }>(
    `SELECT phone FROM callbacks WHERE domain = $1 AND status = 'queued' AND phone IS NOT NULL LIMIT 1`,
    [DOMAIN],
  );
  const first = run.slotStarts[0];
  const last = run.slotStarts[run.slotStarts.length - 1];
  if (!first || !last) throw new Error('no bookable window to explain with');
  await explainHotStatements(
    run.pool,
    {
      now: businessNow(run),
      domain: DOMAIN,
      windowStart: new Date(first),
      windowLast: new Date(Date.parse(last) + 1),
      capacity: run.informateurs.length * CALLBACKS_PER_AGENT_PER_SLOT,
      activePhone: active.rows[0]?.phone ?? '+33610000000',
    },
    path.resolve(file),
  );
}
