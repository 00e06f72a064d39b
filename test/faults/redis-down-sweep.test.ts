import { describe, expect, it } from 'vitest';
import { createAgent, setAgentStatus } from './support/http.js';
import { Ledger, submit } from './support/intake.js';
import {
  BusinessClock,
  newPrefix,
  startRappel,
  waitFor,
  waitForOutput,
  type Stack,
} from './support/rappel.js';
import { privateRedisFixture } from './support/redis-fixture.js';
import { statuses } from './support/verify.js';

/**
 * Redis down for longer than a sweep: the repeatable reconcile job does not run, so the worker
 * sweeps from its own timer. An outside test saw an informateur's expired lease stay on the desk
 * until Redis came back (72 s late, and without bound), and a worker asked to stop then spend
 * its whole SHUTDOWN_TIMEOUT_MS waiting for Redis and exit 1.
 */
describe('Redis down (redis backend)', () => {
  const f = privateRedisFixture();

  it('releases an expired lease from PostgreSQL, then the worker stops cleanly', async () => {
    const stack: Stack = {
      databaseUrl: f.db.url,
      redisUrl: f.redis.url,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T10:00:00+01:00'),
    };
    const [api, worker] = await Promise.all([startRappel(stack, 'api'), startRappel(stack, 'worker')]);
    const agent = await createAgent(api.baseUrl, ['travail']);
    await setAgentStatus(api.baseUrl, agent.token, 'available');
    const booked = await submit(api.baseUrl, new Ledger().asap('travail'));
    expect(booked.status, JSON.stringify(booked.body)).toBe(201);
    await waitFor(
      'the asap callback on the desk',
      async () => ((await statuses(f.sql, [booked.id!])).get(booked.id!) === 'assigned' ? true : undefined),
      20_000,
    );

    await f.redis.stop();
    // The informateur gone without a word: the lease ran out a minute ago (business time).
    const expired = stack.clock.now().minus({ minutes: 1 }).toJSDate();
    await f.sql.query('UPDATE callbacks SET lease_expires_at = $1 WHERE id = $2', [expired, booked.id]);
    await waitFor(
      'the callback back in the queue',
      async () => ((await statuses(f.sql, [booked.id!])).get(booked.id!) === 'queued' ? true : undefined),
      50_000, // the worker's timer runs every 30 s
    );
    await waitForOutput(worker, /queue unreachable: reconcile sweep run by the worker itself/, 5_000);

    // Exit 0, not 1 after SHUTDOWN_TIMEOUT_MS ("shutdown timed out") waiting for Redis.
    worker.proc.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).not.toContain('shutdown timed out');
  }, 120_000);
});
