import type { QueueHandle } from '../queue/connection.js';
import { markSent, oldestUnsent, purgeSent, readUnsent, type OutboxRow } from '../repositories/outbox.js';
import type { Core } from './core.js';
import { remember } from '../domain/bounded-cache.js';

/** Sent marks are written in batches: one UPDATE per this many ms (or rows), not one per request. */
const MARK_EVERY_MS = 50;
const MARK_BATCH = 500;
/** A window's shared due job is not relied on when the window starts within this. */
const SHARED_WINDOW_JOB_MARGIN_MS = 5_000;
/**
 * A window's shared due job that this process added (or began to add) less than this ago is not
 * added again by the window's next bookings, whose rows are only marked sent: each add is a round
 * trip and a script run on the queue for a job id BullMQ keeps once anyway. Only for windows
 * more than SHARED_JOB_MEMORY_BEFORE_MS away: nearer their start, every booking adds the job, as
 * before. What it gives up: a queue that lost the job (a flushed Redis; a worker whose clock runs
 * far ahead and ran it early) gets it back from the window's first booking relayed once the
 * second is over, and if none comes, its callbacks are queued by the reconciler's sweep (every
 * 30 s) instead of at the window's start.
 */
const SHARED_JOB_MEMORY_MS = 1_000;
const SHARED_JOB_MEMORY_BEFORE_MS = 60_000;
const SHARED_JOB_MEMORY_MAX = 10_000;

/**
 * Turns outbox rows into BullMQ jobs. The row was committed with the state change; the job is
 * added with a deterministic jobId, then the row is marked sent (a window's shared job that this
 * process has just added is not added again: see SHARED_JOB_MEMORY_MS). A crash between the two
 * only re-sends the row later, and BullMQ (same jobId) or the idempotent handler absorbs it.
 *
 * Two paths:
 *  - `relay()` (reconciler, start-up sweep): reads unsent rows, adds their jobs, marks them
 *    sent, 500 at a time, with no transaction held over the queue's round trip.
 *  - `sendNow()` / `relayNow()` right after the commit that wrote the rows: the jobs are added
 *    at once (rows of concurrent requests together, in one addBulk), and the rows are marked
 *    sent in a batch a few milliseconds later, outside any request's transaction. Until the mark lands, a sweep may add the same job again: same
 *    jobId, so nothing happens twice. If the process dies first, the next sweep re-sends them.
 */
export function createOutboxRelay(
  core: Core,
  queue: QueueHandle,
  /** Monotonic milliseconds, for SHARED_JOB_MEMORY_MS (tests move it). */
  monotonicNow: () => number = () => performance.now(),
) {
  const toMark: number[] = [];
  let markTimer: NodeJS.Timeout | undefined;
  let marking: Promise<void> = Promise.resolve();

  /**
   * The job id a row is sent under. A window's due job is shared by its bookings (BullMQ adds a
   * job id once: the window's later bookings add nothing, and wake no worker). It is removed once
   * done, so a booking relayed after it ran (processes whose clocks disagree) adds it again
   * rather than hitting a finished job (unless this process added it less than
   * SHARED_JOB_MEMORY_MS before); one relayed when the window is about to start, or has
   * started, gets a job of its own, the shared one being possibly under way.
   */
  function jobIdOf(r: OutboxRow, now: number): string {
    return r.jobName === 'window-due' && r.runAt.getTime() <= now + SHARED_WINDOW_JOB_MARGIN_MS
      ? `${r.jobId}-row${r.id}`
      : r.jobId;
  }

  /** Shared window jobs added lately by the hot path (sendNow), by job id: when (monotonicNow). */
  const sharedAdded = new Map<string, number>();

  /**
   * Adds the rows' jobs. `remembering`: leave out the shared window jobs added in the last
   * SHARED_JOB_MEMORY_MS, and remember those added now (the reconciler's `relay` adds every job).
   */
  async function addJobs(rows: OutboxRow[], remembering = false): Promise<void> {
    const now = core.clock.now().toMillis();
    const jobs = new Map<string, OutboxRow>(); // a window's bookings relayed together: one job
    for (const r of rows) jobs.set(jobIdOf(r, now), r);
    const at = monotonicNow();
    const remembered: string[] = [];
    if (remembering)
      for (const [jobId, r] of jobs) {
        if (jobId !== r.jobId || r.jobName !== 'window-due') continue; // not a shared job
        if (r.runAt.getTime() - now <= SHARED_JOB_MEMORY_BEFORE_MS) continue;
        const added = sharedAdded.get(jobId);
        if (added !== undefined && at - added < SHARED_JOB_MEMORY_MS) jobs.delete(jobId);
        else remembered.push(jobId);
      }
    if (jobs.size === 0) return;
    // Remembered before the add, so that the batches relayed while it is under way skip it too.
    for (const jobId of remembered) remember(sharedAdded, SHARED_JOB_MEMORY_MAX, jobId, at);
    try {
      await queue.addBulk(
        [...jobs].map(([jobId, r]) => ({
          name: r.jobName,
          data: r.payload,
          opts: {
            jobId,
            delay: Math.max(0, r.runAt.getTime() - now),
            ...(r.jobName === 'window-due' ? { removeOnComplete: true } : {}),
          },
        })),
      );
    } catch (err) {
      for (const jobId of remembered) if (sharedAdded.get(jobId) === at) sharedAdded.delete(jobId);
      throw err;
    }
  }

  /**
   * Sends every unsent row, 500 at a time: read, added to the queue, marked sent, each its own
   * statement. No transaction spans the queue's round trip: one that locked the rows held a
   * pooled connection (shared with the API's requests) idle in its transaction for as long as a
   * slow queue took to answer, up to 13 s, and the API's sent marks waited on its row locks.
   * Two sweeps at once may send the same rows: same job ids, so nothing happens twice.
   */
  async function relay(): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await oldestUnsent(core.db, 500);
      if (rows.length === 0) return total;
      await addJobs(rows);
      await markSent(
        core.db,
        rows.map((r) => r.id),
        core.clock.now().toJSDate(),
      );
      total += rows.length;
      if (rows.length < 500) return total;
    }
  }

  /** Writes the pending sent marks now (one statement). A failure leaves them for the sweep. */
  function flushMarks(): Promise<void> {
    if (markTimer) clearTimeout(markTimer);
    markTimer = undefined;
    const ids = toMark.splice(0);
    if (ids.length === 0) return marking;
    marking = marking
      .then(() => markSent(core.db, ids, core.clock.now().toJSDate()))
      .catch((err: unknown) => {
        core.log.warn(
          { err: { message: (err as Error).message }, rows: ids.length },
          'outbox rows sent but not marked: the next sweep re-sends them (same jobIds)',
        );
      });
    return marking;
  }

  function markLater(ids: number[]): void {
    toMark.push(...ids);
    if (toMark.length >= MARK_BATCH) void flushMarks();
    else markTimer ??= setTimeout(() => void flushMarks(), MARK_EVERY_MS);
  }

  // Rows handed to sendNow in the same turn of the event loop go out in one addBulk: under
  // load, concurrent requests share one round trip to the queue instead of one each.
  let batch: { rows: OutboxRow[]; done: Promise<void> } | null = null;

  async function sendBatch(rows: OutboxRow[]): Promise<void> {
    try {
      await addJobs(rows, true);
      markLater(rows.map((r) => r.id));
    } catch (err) {
      core.log.warn({ err: { message: (err as Error).message } }, 'outbox relay deferred to the reconciler');
    }
  }

  /** Batches not sent yet: shutdown waits for them (a request need not). */
  const sending = new Set<Promise<void>>();

  function sendNow(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (!batch) {
      const b: { rows: OutboxRow[]; done: Promise<void> } = { rows: [], done: Promise.resolve() };
      b.done = new Promise<void>((resolve) =>
        setImmediate(() => {
          if (batch === b) batch = null;
          void sendBatch(b.rows).finally(resolve);
        }),
      );
      sending.add(b.done);
      void b.done.then(() => sending.delete(b.done));
      batch = b;
    }
    batch.rows.push(...rows);
    return batch.done;
  }

  return {
    relay,
    /** Best effort right after the commit that wrote these rows; the reconciler relays what this misses. */
    sendNow,
    /** As `sendNow`, for rows known by id only (one read, no lock). */
    async relayNow(ids: number[]): Promise<void> {
      if (ids.length === 0) return;
      let rows: OutboxRow[];
      try {
        rows = await readUnsent(core.db, ids);
      } catch (err) {
        core.log.warn(
          { err: { message: (err as Error).message } },
          'outbox relay deferred to the reconciler',
        );
        return;
      }
      await sendNow(rows);
    },
    /** Sends the batches still waiting, then writes the sent marks still pending (at shutdown). */
    async flush(): Promise<void> {
      await Promise.all(sending);
      await flushMarks();
    },
    purge: () => purgeSent(core.db, core.clock.now().minus({ days: 1 }).toJSDate()),
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
