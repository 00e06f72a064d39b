import { setTimeout as sleep } from 'node:timers/promises';
import type { Run } from './phases.js';
import { cpuMs, postgresCpuMs } from './procs.js';
import type { LoadResult } from './stats.js';

/**
 * Waits until the service (or the ceiling server) has nothing left in flight on PostgreSQL: when
 * a load generator stops, the requests it had sent are still being served, and they must not leak
 * into what comes next.
 */
export async function waitQuiet(run: Run, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Five empty looks in a row; the smoke looks more often (its numbers do not count, its time does).
  const pollMs = run.s.smoke ? 20 : 100;
  for (let quiet = 0; quiet < 5 && Date.now() < deadline;) {
    const r = await run.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name IN ('rappel', 'rappel-ceiling')
         AND state <> 'idle'`,
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

/** The WAL's flushed end now (after a load: everything it committed). */
async function walPosition(run: Run): Promise<string> {
  const r = await run.pool.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
  return r.rows[0]!.lsn;
}

/**
 * WAL the cluster wrote between two positions: bytes, exactly, and how many of those bytes were
 * whole pages (a page's first change after a checkpoint is written whole), read from the WAL itself
 * with pg_walinspect; null where it cannot be (no extension, or the segments already recycled).
 * pg_stat_wal would lag: backends report to it at most once a second, and an idle one up to 10 s
 * later.
 */
async function walBetween(
  run: Run,
  from: string,
  to: string,
): Promise<{ bytes: number; wholePageBytes: number | null }> {
  const b = await run.pool.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($2, $1)::text AS bytes', [
    from,
    to,
  ]);
  const whole = await run.pool
    .query<{ n: string | null }>('SELECT sum(fpi_size)::text AS n FROM pg_get_wal_stats($1, $2)', [from, to])
    .then((r) => Number(r.rows[0]?.n ?? 0))
    .catch(() => null);
  return { bytes: Number(b.rows[0]!.bytes), wholePageBytes: whole };
}

/**
 * Runs a load child and charges the CPU time of the processes under test, and the WAL the
 * cluster wrote meanwhile, to its requests (the service's worker may write a little during a
 * ceiling's load too: its periodic jobs).
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
  const readers: Record<string, () => number> = {
    ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, () => cpuMs(pid)])),
    // The database server's share, for the service and its ceiling alike.
    postgres: () => postgresCpuMs(run.postmasterPid),
  };
  const before = Object.fromEntries(Object.entries(readers).map(([k, read]) => [k, read()]));
  const walFrom = await walPosition(run);
  const waits = target === 'service' ? sampleWaits(run) : null;
  const result = await go().finally(() => waits?.stop());
  await waitQuiet(run); // what is still in flight belongs to this run too
  // Read now, before this function's own queries below.
  const after = Object.fromEntries(Object.entries(readers).map(([k, read]) => [k, read()]));
  if (waits) result.dbWaits = await waits.result;
  const sent = result.sentWithWarmup ?? result.total;
  const wal = await walBetween(run, walFrom, await walPosition(run));
  const perRequest = (x: number) => Math.round((x / Math.max(1, sent)) * 100) / 100;
  result.walPerRequest = {
    kB: perRequest(wal.bytes / 1024),
    ...(wal.wholePageBytes === null ? {} : { wholePagesKB: perRequest(wal.wholePageBytes / 1024) }),
  };
  result.cpuMsPerRequest = Object.fromEntries(
    Object.keys(readers)
      .map((k) => [k, Math.round(((after[k]! - before[k]!) / Math.max(1, sent)) * 100) / 100] as const)
      .filter(([, x]) => Number.isFinite(x)),
  );
  return result;
}
