import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../support/runtime.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { killAllChildren, killChild } from '../support/processes.js';
import { createAgent } from './support/http.js';
import { DOMAINS, Ledger, eachConcurrently, spread, steadyIntake, submit } from './support/intake.js';
import {
  BusinessClock,
  newPrefix,
  phases,
  sleep,
  startRappel,
  waitFor,
  type Stack,
  takeStacksUsed,
} from './support/rappel.js';
import {
  checkLedger,
  windowDueJobOf,
  eventCounts,
  expectNothingLostOrDuplicated,
  openQueue,
  statuses,
  unsentOutbox,
  clearQueue,
} from './support/verify.js';

/**
 * Scenario 2: the API is killed (-9) under steady intake. Every 201 is in the database exactly
 * once; the requests that got no answer, retried with the same Idempotency-Key on a new API
 * process, replay or create exactly once; a worker started afterwards relays whatever outbox
 * rows the dead process left unsent, so every callback has its due job.
 */
describe.each(BACKENDS)('kill -9 of the API under steady intake (%s backend)', (backend) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterEach(async () => {
    await killAllChildren();
    await Promise.all(takeStacksUsed().map(clearQueue));
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('loses nothing acknowledged and creates nothing twice', async () => {
    const stack: Stack = {
      databaseUrl: db.url,
      redisUrl: backend === 'redis' ? TEST_REDIS_URL : null,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T08:00:00+01:00'),
    };
    const ledger = new Ledger();
    const phase = phases(`api-kill ${backend}`);
    let api = await startRappel(stack, 'api', { name: 'api-1' });
    phase('api started');
    for (const d of DOMAINS) await createAgent(api.baseUrl, [d]);

    const load = steadyIntake({ target: () => api.baseUrl, ledger, next: spread(ledger), concurrency: 8 });
    await waitFor('some acknowledged requests', async () => (ledger.acked().length >= 40 ? true : undefined));
    await killChild(api);
    await sleep(100); // the clients keep sending to the dead port for a moment
    await load.stop();
    phase('load and kill');
    const unanswered = ledger.requests.filter((r) => !r.answers.some((a) => a.status === 201));
    expect(unanswered.length, JSON.stringify(ledger.statuses())).toBeGreaterThan(0);
    expect(ledger.statuses()['500'] ?? 0).toBe(0);

    // A new API, and a worker whose start-up sweep relays the rows the killed API committed
    // but never sent.
    [api] = await Promise.all([startRappel(stack, 'api', { name: 'api-2' }), startRappel(stack, 'worker')]);
    phase('api-2 and worker started');
    // Retrying what got no answer: created now, or replayed if the dead process had committed it.
    let replayed = 0;
    await eachConcurrently(unanswered, 8, async (req) => {
      const a = await submit(api.baseUrl, req);
      expect(a.status, JSON.stringify(a.body)).toBe(201);
      if (a.replayed) replayed++;
    });
    console.log(`api-kill ${backend}`, { ...ledger.statuses(), unanswered: unanswered.length, replayed });
    // Retrying what was acknowledged replays the same callback.
    for (const req of ledger.acked().slice(0, 10)) {
      const first = req.answers.find((a) => a.status === 201)!;
      const again = await submit(api.baseUrl, req);
      expect(again).toMatchObject({ status: 201, id: first.id, replayed: true });
    }

    phase('retries');
    // Sent marks are written in batches every 50 ms after the jobs went out: wait for the last.
    await waitFor(
      'every outbox row marked sent',
      async () => ((await unsentOutbox(sql)) === 0 ? true : undefined),
      5_000,
    );

    const report = await checkLedger(sql, ledger);
    expectNothingLostOrDuplicated(report, 40);
    expect(report.acknowledged).toBe(ledger.requests.length);
    const acked = ledger.acked().map((r) => ({ id: r.answers.find((a) => a.status === 201)!.id!, req: r }));
    const ids = acked.map((a) => a.id);
    const st = await statuses(sql, ids);
    const events = await eventCounts(sql, ids);
    const { queue, close } = await openQueue(stack);
    try {
      for (const { id, req } of acked) {
        expect(st.get(id)).toBe('scheduled');
        expect(events.get(id)).toEqual({ created: 1 });
        const job = await windowDueJobOf(queue, sql, req.body.domain as string, req.body.slotStart as string);
        expect(job?.name, `due job of ${id}`).toBe('window-due');
      }
    } finally {
      await close();
    }
    phase('checks');
    // The window counters agree with the bookings.
    const load2 = await sql.query<{ mismatch: number }>(
      `SELECT count(*)::int AS mismatch FROM window_load w FULL JOIN (
         SELECT domain, window_start, count(*)::int AS n FROM callbacks GROUP BY 1, 2) c
         USING (domain, window_start) WHERE coalesce(w.booked, 0) <> coalesce(c.n, 0)`,
    );
    expect(load2.rows[0]!.mismatch).toBe(0);
  });
});
