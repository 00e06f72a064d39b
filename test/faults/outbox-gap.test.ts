import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/runtime.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { freePort, killAllChildren, killChild } from '../support/processes.js';
import { createAgent, setAgentStatus } from './support/http.js';
import { DOMAINS, Ledger, submit, windowsOfMonday, type IntakeRequest } from './support/intake.js';
import {
  BusinessClock,
  newPrefix,
  startRappel,
  waitFor,
  type Stack,
  type Started,
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
 * Scenario 3: the API dies between the outbox write (committed with the callback) and the
 * enqueue. The final state must be that of a run without the fault: a worker's start-up sweep
 * relays the unsent rows, every scheduled callback gets its due job, every asap callback is
 * dispatched to its domain's available informateur.
 */
describe('kill -9 between the outbox write and the enqueue', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  beforeEach(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3, application_name: 'faults-test' });
  });

  /** Informateurs of every domain, available; eight slot bookings over the day, one asap per domain. */
  async function prepare(api: Started, ledger: Ledger): Promise<IntakeRequest[]> {
    for (const d of DOMAINS)
      await setAgentStatus(api.baseUrl, (await createAgent(api.baseUrl, [d])).token, 'available');
    const windows = windowsOfMonday('10:30');
    return [
      ...Array.from({ length: 8 }, (_, i) => ledger.slot(DOMAINS[i % 4]!, windows[i]!)),
      ...DOMAINS.map((d) => ledger.asap(d)),
    ];
  }

  /** What a run without the fault ends with. */
  async function expectFinalState(stack: Stack, ledger: Ledger): Promise<void> {
    expectNothingLostOrDuplicated(await checkLedger(sql, ledger), ledger.requests.length);
    // Sent marks are written in batches every 50 ms after the jobs went out: wait for the last.
    await waitFor(
      'every outbox row marked sent',
      async () => ((await unsentOutbox(sql)) === 0 ? true : undefined),
      5_000,
    );
    const acked = ledger.acked().map((r) => ({ req: r, id: r.answers.find((a) => a.status === 201)!.id! }));
    const ids = acked.map((a) => a.id);
    await waitFor('asap callbacks dispatched', async () => {
      const st = await statuses(sql, ids);
      return acked.every((a) => a.req.body.mode === 'slot' || st.get(a.id) === 'assigned') ? true : undefined;
    });
    const st = await statuses(sql, ids);
    const events = await eventCounts(sql, ids);
    const { queue, close } = await openQueue(stack);
    try {
      for (const { req, id } of acked) {
        if (req.body.mode === 'slot') {
          expect(st.get(id)).toBe('scheduled');
          expect(events.get(id)).toEqual({ created: 1 });
          const job = await windowDueJobOf(
            queue,
            sql,
            req.body.domain as string,
            req.body.slotStart as string,
          );
          expect(job?.name, `due job of ${id}`).toBe('window-due');
        } else {
          expect(st.get(id)).toBe('assigned');
          expect(events.get(id)).toEqual({ created: 1, assigned: 1 });
        }
      }
    } finally {
      await close();
    }
  }

  it('redis backend: an API that cannot reach Redis acknowledges, dies; a worker relays', async () => {
    const stack: Stack = {
      databaseUrl: db.url,
      redisUrl: TEST_REDIS_URL,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T10:00:00+01:00'),
    };
    const ledger = new Ledger();
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const api = await startRappel(stack, 'api', { env: { REDIS_URL: unreachable } });
    const requests = await prepare(api, ledger);
    for (const req of requests) expect((await submit(api.baseUrl, req)).status).toBe(201);
    expect(await unsentOutbox(sql)).toBe(requests.length);
    await killChild(api);

    await startRappel(stack, 'worker');
    await expectFinalState(stack, ledger);
  });

  it('postgres backend: the API is killed while its enqueue waits; the retries replay', async () => {
    const stack: Stack = {
      databaseUrl: db.url,
      redisUrl: null,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T10:00:00+01:00'),
    };
    const ledger = new Ledger();
    const api = await startRappel(stack, 'api');
    const requests = await prepare(api, ledger);
    // The test holds BullMQ's job table: the relay after each commit waits on its INSERT.
    const lock = new pg.Client({ connectionString: db.url, application_name: 'faults-test' });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE bullmq.job IN EXCLUSIVE MODE');
      const inFlight = requests.map((req) => submit(api.baseUrl, req, 60_000));
      await waitFor('every callback and outbox row committed', async () =>
        (await unsentOutbox(sql)) === requests.length ? true : undefined,
      );
      await killChild(api);
      // No answer; or, if the enqueue gave up first (after 3 s), a 201 with the relay deferred.
      for (const a of await Promise.all(inFlight)) expect([null, 201]).toContain(a.status);
      // The dead process's sessions: PostgreSQL would drop them when it notices the client is
      // gone; do it now, before the table is released, so none of their enqueues slips through.
      await sql.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name <> 'faults-test' AND backend_type = 'client backend'`,
      );
      await lock.query('COMMIT');
    } finally {
      await lock.end();
    }
    expect(await unsentOutbox(sql)).toBe(requests.length);

    const [api2] = await Promise.all([
      startRappel(stack, 'api', { name: 'api-2' }),
      startRappel(stack, 'worker'),
    ]);
    for (const req of requests) {
      const a = await submit(api2.baseUrl, req);
      expect(a).toMatchObject({ status: 201, replayed: true });
    }
    await expectFinalState(stack, ledger);
  });

  afterEach(async () => {
    await killAllChildren();
    await Promise.all(takeStacksUsed().map(clearQueue));
    await sql?.end();
    await db?.drop();
  });
});
