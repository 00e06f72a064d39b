import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/runtime.js';
import { killAllChildren } from '../support/processes.js';
import { createAgent, readyz, setAgentStatus } from './support/http.js';
import { DOMAINS, Ledger, spread, steadyIntake, submit, windowsOfMonday } from './support/intake.js';
import {
  BusinessClock,
  newPrefix,
  sleep,
  startRappel,
  waitFor,
  type Stack,
  type Started,
} from './support/rappel.js';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres.js';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.js';
import { testPool } from './support/test-pool.js';
import { checkLedger, expectNothingLostOrDuplicated, statuses, unsentOutbox } from './support/verify.js';

/** Wall time until /readyz answers `status`; fails after `withinMs`. */
async function readyzBecomes(api: Started, status: number, withinMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(
    `/readyz ${status}`,
    async () => ((await readyz(api.baseUrl)) === status ? true : undefined),
    withinMs,
  );
  return Date.now() - started;
}

/**
 * The worker is alive and working: an asap callback is dispatched to the available informateur
 * of `domain` (whose desk must be free: one domain per call).
 */
async function expectWorkerDispatches(
  api: Started,
  sql: pg.Pool,
  ledger: Ledger,
  domain: string,
): Promise<void> {
  const req = ledger.asap(domain);
  const a = await submit(api.baseUrl, req);
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  await waitFor(
    'the asap callback dispatched by the worker',
    async () => ((await statuses(sql, [a.id!])).get(a.id!) === 'assigned' ? true : undefined),
    20_000,
  );
}

/**
 * Scenario 5: PostgreSQL sessions terminated, then the server stopped and started again, under
 * steady intake; with the Redis backend, Redis stopped and started too. While a dependency is
 * down the API answers 503 quickly (never hangs more than 5 s) and /readyz turns 503 within 5 s;
 * everything recovers on its own; nothing acknowledged is missing, no 503 wrote anything.
 */
describe.each(BACKENDS)('dependencies down and back (%s backend)', (backend) => {
  let pgServer: PrivatePostgres;
  let redis: PrivateRedis | undefined;
  let sql: pg.Pool;
  let stack: Stack;
  let api: Started;
  let worker: Started;
  const ledger = new Ledger();
  beforeAll(async () => {
    [pgServer, redis] = await Promise.all([
      startPrivatePostgres(),
      backend === 'redis' ? startPrivateRedis() : Promise.resolve(undefined),
    ]);
    sql = testPool(pgServer.url());
    stack = {
      databaseUrl: pgServer.url(),
      redisUrl: redis?.url ?? null,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T10:00:00+01:00'),
    };
    [api, worker] = await Promise.all([startRappel(stack, 'api'), startRappel(stack, 'worker')]);
    for (const d of DOMAINS)
      await setAgentStatus(api.baseUrl, (await createAgent(api.baseUrl, [d])).token, 'available');
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.log(
        JSON.stringify(ledger.statuses()),
        ledger.requests.slice(-5).map((r) => r.answers),
      );
      console.log(api.output().split('\n').slice(-30).join('\n'));
    }
    // Recovery is on their own: neither process may have died or been restarted.
    expect(api.hasExited() || worker.hasExited(), 'a process died').toBe(false);
    expect(ledger.statuses()['500'] ?? 0, JSON.stringify(ledger.statuses())).toBe(0);
  });
  afterAll(async () => {
    await killAllChildren();
    await sql?.end();
    await Promise.allSettled([pgServer?.destroy(), redis?.destroy()]);
  });

  it('PostgreSQL sessions terminated, server stopped and started: 503 fast, then recovery', async () => {
    const load = steadyIntake({
      target: () => api.baseUrl,
      ledger,
      concurrency: 4,
      pauseMs: 10,
      next: spread(ledger, windowsOfMonday('10:30')),
    });
    try {
      await sleep(1_000);
      expect(await pgServer.terminateBackends()).toBeGreaterThan(0);
      const mark = ledger.requests.length;
      await waitFor('201 again after the sessions were terminated', async () =>
        ledger.requests.slice(mark + 8).some((r) => r.answers[0]?.status === 201) ? true : undefined,
      );
      expect(await readyz(api.baseUrl)).toBe(200);

      await pgServer.stop();
      const down = ledger.requests.length;
      expect(await readyzBecomes(api, 503, 5_000)).toBeLessThan(5_000);
      await sleep(2_000);
      const duringOutage = ledger.requests.slice(down + 4).flatMap((r) => r.answers);
      expect(duringOutage.length).toBeGreaterThan(0);
      expect(duringOutage.every((a) => a.status === 503)).toBe(true);
      // Prometheus still scrapes the process, and learns the database is down.
      const scrape = await fetch(`${api.baseUrl}/metrics`);
      expect(scrape.status).toBe(200);
      const text = await scrape.text();
      expect(text).toMatch(/^rappel_database_up 0$/m);
      expect(text).toContain('rappel_dispatch');

      await pgServer.start();
      await readyzBecomes(api, 200, 20_000);
      expect(await (await fetch(`${api.baseUrl}/metrics`)).text()).toMatch(/^rappel_database_up 1$/m);
      const up = ledger.requests.length;
      await waitFor('201 again after the restart', async () =>
        ledger.requests.slice(up + 4).some((r) => r.answers[0]?.status === 201) ? true : undefined,
      );
    } finally {
      await load.stop();
    }
    const slowest = Math.max(...ledger.requests.flatMap((r) => r.answers.map((a) => a.ms)));
    expect(slowest, 'no request hangs more than 5 s').toBeLessThan(5_000);
    expect(ledger.statuses()['no-answer'] ?? 0).toBe(0);
    expectNothingLostOrDuplicated(await checkLedger(sql, ledger), 20);
    await expectWorkerDispatches(api, sql, ledger, 'travail');
  });

  it.runIf(backend === 'redis')(
    'Redis stopped and started: /readyz follows, intake goes on, workers resume',
    async () => {
      const load = steadyIntake({
        target: () => api.baseUrl,
        ledger,
        concurrency: 2,
        pauseMs: 20,
        next: spread(ledger, windowsOfMonday('11:00')),
      });
      try {
        await sleep(500);
        await redis!.stop();
        expect(await readyzBecomes(api, 503, 5_000)).toBeLessThan(5_000);
        await sleep(2_000);
        await redis!.start(); // empty: no persistence
        await readyzBecomes(api, 200, 20_000);
        await sleep(500);
      } finally {
        await load.stop();
      }
      const slowest = Math.max(...ledger.requests.flatMap((r) => r.answers.map((a) => a.ms)));
      expect(slowest, 'no request hangs more than 5 s').toBeLessThan(5_000);
      expectNothingLostOrDuplicated(await checkLedger(sql, ledger), 20);
      // The emptied Redis lost the schedules and timers: the worker notices, sweeps, relays.
      await waitFor(
        'the outbox relayed',
        async () => ((await unsentOutbox(sql)) === 0 ? true : undefined),
        20_000,
      );
      await expectWorkerDispatches(api, sql, ledger, 'justice');
    },
  );
});
