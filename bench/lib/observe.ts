import { setTimeout as sleep } from 'node:timers/promises';
import type { Run } from './phases.js';
import { cpuMs } from './procs.js';
import type { LoadResult } from './stats.js';

/**
 * Waits until the service has nothing left in flight on PostgreSQL: when a load generator stops,
 * the requests it had sent are still being served, and they must not leak into what comes next.
 */
export async function waitQuiet(run: Run, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Five empty looks in a row; the smoke looks more often (its numbers do not count, its time does).
  const pollMs = run.s.smoke ? 20 : 100;
  for (let quiet = 0; quiet < 5 && Date.now() < deadline;) {
    const r = await run.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'rappel' AND state <> 'idle'`,
    );
    quiet = Number(r.rows[0]?.n ?? 0) === 0 ? quiet + 1 : 0;
    await sleep(pollMs);
  }
}

/**
 * What the service's busy PostgreSQL connections were doing, sampled every 200 ms during a load:
 * `CPU` (running), `ClientRead in transaction` (waiting for Rappel's next statement), a lock, I/O.
 * Shares of all samples, largest first.
 */
function sampleWaits(run: Run): { stop: () => void; result: Promise<Record<string, number>> } {
  const counts = new Map<string, number>();
  let stopped = false;
  const result = (async () => {
    let total = 0;
    while (!stopped) {
      const r = await run.pool.query<{ what: string; n: string }>(
        `SELECT CASE WHEN wait_event IS NULL THEN 'CPU'
                     ELSE wait_event_type || ':' || wait_event END
                || CASE WHEN state = 'idle in transaction' THEN ' in transaction' ELSE '' END AS what,
                count(*) AS n
         FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'rappel' AND state <> 'idle'
         GROUP BY 1`,
      );
      for (const x of r.rows) {
        counts.set(x.what, (counts.get(x.what) ?? 0) + Number(x.n));
        total += Number(x.n);
      }
      await sleep(200);
    }
    return Object.fromEntries(
      [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => [k, Math.round((n / Math.max(1, total)) * 1000) / 1000]),
    );
  })();
  return { stop: () => void (stopped = true), result };
}

/** WAL written by the whole cluster so far: bytes, and pages written whole (first change after a checkpoint). */
async function walTotals(run: Run): Promise<{ bytes: number; fullPages: number }> {
  const r = await run.pool.query<{ bytes: string; fpi: string }>(
    'SELECT wal_bytes::text AS bytes, wal_fpi::text AS fpi FROM pg_stat_wal',
  );
  return { bytes: Number(r.rows[0]!.bytes), fullPages: Number(r.rows[0]!.fpi) };
}

/**
 * Runs a load child and charges the CPU time of the processes under test, and the WAL the
 * cluster wrote meanwhile (only they write to it then), to its requests.
 */
export async function measured(
  run: Run,
  name: string,
  target: 'service' | 'ceiling',
  go: () => Promise<LoadResult>,
) {
  run.rss.phase = name;
  const pids: Record<string, number> =
    target === 'ceiling'
      ? { ceiling: run.ceilingPid }
      : { api: run.service.api.pid, worker: run.service.worker.pid };
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const walBefore = await walTotals(run);
  const waits = target === 'service' ? sampleWaits(run) : null;
  const result = await go().finally(() => waits?.stop());
  await waitQuiet(run); // what is still in flight belongs to this run too
  if (waits) result.dbWaits = await waits.result;
  const sent = result.sentWithWarmup ?? result.total;
  const walAfter = await walTotals(run);
  result.walPerRequest = {
    kB: Math.round(((walAfter.bytes - walBefore.bytes) / 1024 / Math.max(1, sent)) * 100) / 100,
    fullPages: Math.round(((walAfter.fullPages - walBefore.fullPages) / Math.max(1, sent)) * 100) / 100,
  };
  result.cpuMsPerRequest = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [
      k,
      Math.round(((cpuMs(pid) - before[k]!) / Math.max(1, sent)) * 100) / 100,
    ]),
  );
  return result;
}
