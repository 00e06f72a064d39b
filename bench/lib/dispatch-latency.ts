import { setTimeout as sleep } from 'node:timers/promises';
import { PUSH_GRACE_MS } from '../../src/repositories/push.js';
import { book, inBatches, reportReached, setAvailable, type Booked } from './api.js';
import { businessNow, type Run } from './phases.js';
import { DISPATCH_WINDOW, DOMAIN } from './settings.js';
import { summarize, type Latency } from './stats.js';

export interface DispatchSet {
  sent: number;
  accepted: number;
  refused: Record<string, number>;
  assigned: number;
  /** Due -> on a desk, wall-clock ms (corrected for the two processes' APP_NOW clock skew). */
  latency: Latency;
}

export interface DispatchResult {
  /** The worker's business clock minus the API's, subtracted from assigned_at - due_at. */
  clockSkewMs: number;
  slotBurst: DispatchSet;
  asap: DispatchSet;
  all: Latency;
}

const WAIT_AFTER_DUE_MS = 40_000; // longer than a reconciler period: whatever is lost shows as late

async function waitAssigned(run: Run, ids: string[], deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const r = await run.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM callbacks WHERE id = ANY($1::uuid[]) AND assigned_at IS NULL`,
      [ids],
    );
    if (Number(r.rows[0]?.n ?? 1) === 0) return;
    await sleep(100);
  }
}

async function latencies(run: Run, ids: string[], skewMs: number) {
  const r = await run.pool.query<{ reference: string; agent: string | null; ms: number | null }>(
    `SELECT reference, assigned_agent_id AS agent,
       (extract(epoch FROM assigned_at - due_at) * 1000)::float8 AS ms
     FROM callbacks WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const assigned = r.rows.filter((x) => x.ms !== null);
  return {
    rows: assigned,
    // A callback never assigned counts as the whole wait: it must fail the p99, not vanish.
    samples: [
      ...assigned.map((x) => x.ms! - skewMs),
      ...Array<number>(r.rows.length - assigned.length).fill(WAIT_AFTER_DUE_MS),
    ],
  };
}

function tally(results: Booked[]): { ids: string[]; refused: Record<string, number> } {
  const refused: Record<string, number> = {};
  for (const b of results) {
    const k = b.code ?? String(b.status);
    if (b.status !== 201) refused[k] = (refused[k] ?? 0) + 1;
  }
  return { ids: results.filter((b) => b.status === 201 && b.id).map((b) => b.id!), refused };
}

/**
 * From a callback becoming due to it being on a desk, with informateurs waiting (available,
 * empty desks) and the worker process running: a burst of slot callbacks whose window opens a
 * few seconds after booking, then asap requests spread over time.
 */
export async function measureDispatch(run: Run): Promise<DispatchResult> {
  const base = run.service.url;
  const skew = run.service.offsetMs.worker - run.service.offsetMs.api;
  const tokenOf = new Map(run.informateurs.map((i) => [i.id, i.token]));
  await setAvailable(base, run.informateurs);

  // 1. A window opening in a few seconds, one callback per informateur.
  const n = Math.min(run.informateurs.length, 100);
  const phones = run.phoneCursor;
  run.phoneCursor += n + run.s.asapCallbacks;
  const slot = tally(
    await inBatches([...Array(n).keys()], 10, (i) => book(base, DOMAIN, phones + i, 'slot', DISPATCH_WINDOW)),
  );
  if (slot.ids.length < n) {
    // Refused bookings would leave the scenario measuring nothing, quietly.
    throw new Error(
      `the dispatch burst was refused (${JSON.stringify(slot.refused)}): the window opened before it was ` +
        'booked (the service took longer to start than the head start its clock gives it)',
    );
  }
  const dueWall = Date.parse(DISPATCH_WINDOW) - run.service.offsetMs.api;
  if (slot.ids.length > 0) await waitAssigned(run, slot.ids, dueWall + WAIT_AFTER_DUE_MS);
  const slotLat = await latencies(run, slot.ids, skew);

  // Calls done: every informateur is idle again.
  await inBatches(slotLat.rows, 10, async (x) => {
    const token = x.agent ? tokenOf.get(x.agent) : undefined;
    if (token) await reportReached(base, x.reference, token);
  });

  // 2. Asap requests, spaced out, while the centre is open, to informateurs idle past the grace
  // an outcome gives them to pull by themselves (push waits for it), as in the full run's second.
  await sleep(PUSH_GRACE_MS);
  while (businessNow(run).getTime() < Date.parse(DISPATCH_WINDOW)) await sleep(100);
  const asapResults: Booked[] = [];
  for (let i = 0; i < run.s.asapCallbacks; i++) {
    asapResults.push(await book(base, DOMAIN, phones + n + i, 'asap'));
    await sleep(1000 / run.s.asapPerSecond);
  }
  const asap = tally(asapResults);
  if (asap.ids.length > 0) await waitAssigned(run, asap.ids, Date.now() + WAIT_AFTER_DUE_MS);
  const asapLat = await latencies(run, asap.ids, skew);

  const set = (sent: number, t: ReturnType<typeof tally>, l: Awaited<ReturnType<typeof latencies>>) => ({
    sent,
    accepted: t.ids.length,
    refused: t.refused,
    assigned: l.rows.length,
    latency: summarize(l.samples),
  });
  return {
    clockSkewMs: Math.round(skew),
    slotBurst: set(n, slot, slotLat),
    asap: set(run.s.asapCallbacks, asap, asapLat),
    all: summarize([...slotLat.samples, ...asapLat.samples]),
  };
}
