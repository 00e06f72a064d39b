import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../support/runtime.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { killAllChildren, killChild } from '../support/processes.js';
import { Ledger } from './support/intake.js';
import {
  BusinessClock,
  newPrefix,
  startRappel,
  waitFor,
  type Stack,
  takeStacksUsed,
} from './support/rappel.js';
import {
  JUST_AFTER_NINE,
  TestLocks,
  bookForNine,
  expectOnlyDueJobActive,
  waitBlockedOnEvents,
  waitQueueQuiet,
} from './support/mid-job.js';
import {
  checkLedger,
  eventCounts,
  expectNothingLostOrDuplicated,
  openQueue,
  statuses,
  clearQueue,
} from './support/verify.js';

/**
 * Scenario 1: a worker is killed (-9) in the middle of a job. The job's transaction was under
 * way (callback updated, its event not yet written): it is rolled back with the dead
 * connection, the job's lock expires (JOB_LOCK_MS=2000), another worker runs it again, and
 * exactly one state change is recorded.
 */
describe.each(BACKENDS)('kill -9 of a worker in the middle of a job (%s backend)', (backend) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let locks: TestLocks | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterEach(async () => {
    await locks?.close();
    await killAllChildren();
    await Promise.all(takeStacksUsed().map(clearQueue));
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('runs the job again after the lock expires and records one queued event', async () => {
    const stack: Stack = {
      databaseUrl: db.url,
      redisUrl: backend === 'redis' ? TEST_REDIS_URL : null,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T08:59:00+01:00'),
    };
    const ledger = new Ledger();
    const api = await startRappel(stack, 'api');
    const { id, jobId } = await bookForNine(api, ledger);

    // The workers start once the window has begun; the callback's row is held meanwhile, so
    // the start-up sweep (which would queue the overdue callback itself) passes it by.
    locks = await TestLocks.open(db.url);
    await locks.holdRow(id);
    stack.clock.set(JUST_AFTER_NINE);
    const first = await startRappel(stack, 'worker', { name: 'worker-1' });
    const { queue, close } = await openQueue(stack);
    try {
      await waitQueueQuiet(queue);
      await locks.holdEvents();
      await locks.releaseRow();
      // The due job's delay (computed by the API at 08:59) has elapsed: promote it.
      const job = await queue.getJob(jobId);
      expect(job, 'the due job was relayed to the queue').toBeDefined();
      await job!.promote();
      await waitBlockedOnEvents(sql);
      await expectOnlyDueJobActive(queue, jobId);
      expect((await statuses(sql, [id])).get(id)).toBe('scheduled');

      await killChild(first);
      const second = await startRappel(stack, 'worker', { name: 'worker-2' });
      // Taken back from the dead worker once its lock expires, and run again (held again on
      // the events lock, still taken: seen while it runs, as a window job is removed once done).
      await waitFor(
        'the job taken back and run again',
        async () => {
          const j = await queue.getJob(jobId);
          return j && j.stalledCounter >= 1 && (await j.getState()) === 'active' ? true : undefined;
        },
        20_000,
      );
      await locks.releaseEvents();

      await waitFor(
        'the callback queued by the job run again',
        async () => ((await statuses(sql, [id])).get(id) === 'queued' ? true : undefined),
        20_000,
      );
      await waitFor(
        'the job done (and removed)',
        async () => ((await queue.getJob(jobId)) === undefined ? true : undefined),
        20_000,
      );
      expect(second.hasExited()).toBe(false);
    } finally {
      await close();
    }

    const events = (await eventCounts(sql, [id])).get(id);
    expect(events).toEqual({ created: 1, queued: 1 });
    expectNothingLostOrDuplicated(await checkLedger(sql, ledger), 1);
  });
});
