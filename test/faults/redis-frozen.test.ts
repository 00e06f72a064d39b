import { afterEach, describe, expect, it } from 'vitest';
import { call, createAgent, readyz } from './support/http.js';
import { Ledger, submit } from './support/intake.js';
import { BusinessClock, newPrefix, startRappel, waitFor, type Stack } from './support/rappel.js';
import { privateRedisFixture } from './support/redis-fixture.js';
import { checkLedger, expectNothingLostOrDuplicated, statuses } from './support/verify.js';

const NINE_THIRTY = '2026-11-23T09:30:00+01:00';

/**
 * Redis frozen (SIGSTOP: its connections stay open and nothing is answered, as on a frozen host
 * or a dropped link), unlike a Redis that is down, sends no error. The API must still answer
 * bookings from PostgreSQL (the rate limits counted there) and the desk, within a few seconds:
 * the rate limiter once waited on Redis for ever, so every booking hung and, once
 * MAX_IN_FLIGHT_REQUESTS of them did, every request answered 503. After the thaw, every
 * acknowledged booking is dispatched when due.
 */
describe('Redis frozen (redis backend)', () => {
  const f = privateRedisFixture();
  afterEach(() => f.redis.thaw());

  it('answers bookings and the desk from PostgreSQL, then dispatches every booking', async () => {
    const stack: Stack = {
      databaseUrl: f.db.url,
      redisUrl: f.redis.url,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T09:29:35+01:00'),
      // The abuse limits on, so that each booking counts (in Redis while it answers).
      env: { RATE_LIMIT_PER_IP_PER_MINUTE: '1000', RATE_LIMIT_PER_PHONE_PER_DAY: '5' },
    };
    const [api] = await Promise.all([startRappel(stack, 'api'), startRappel(stack, 'worker')]);
    const agent = await createAgent(api.baseUrl, ['travail']);
    const ledger = new Ledger();
    expect((await submit(api.baseUrl, ledger.slot('travail', NINE_THIRTY))).status).toBe(201);
    expect(stack.clock.msUntil(NINE_THIRTY), 'processes started too slowly for the timeline').toBeGreaterThan(
      10_000,
    );

    f.redis.freeze();
    const answers = await Promise.all(
      [0, 1, 2, 3].map(() => submit(api.baseUrl, ledger.slot('travail', NINE_THIRTY), 10_000)),
    );
    const pull = await call(api.baseUrl, 'POST', '/v1/agents/me/next', {
      headers: { authorization: `Bearer ${agent.token}` },
    });
    const ready = await readyz(api.baseUrl);
    f.redis.thaw();

    expect(
      answers.map((a) => a.status),
      JSON.stringify(answers.map((a) => ({ status: a.status, ms: a.ms, error: a.error }))),
    ).toEqual([201, 201, 201, 201]);
    expect(Math.max(...answers.map((a) => a.ms)), 'a booking waited on the frozen Redis').toBeLessThan(3_000);
    expect(pull.status, JSON.stringify(pull.body)).toBe(204);
    expect(ready).toBe(503);

    expectNothingLostOrDuplicated(await checkLedger(f.sql, ledger), 5);
    const ids = ledger.acked().map((r) => r.answers.find((a) => a.status === 201)!.id!);
    await waitFor(
      'every booking of 09:30 dispatched',
      async () => {
        const st = await statuses(f.sql, ids);
        return ids.every((id) => ['queued', 'assigned'].includes(st.get(id)!)) ? true : undefined;
      },
      stack.clock.msUntil(NINE_THIRTY) + 40_000,
    );
  }, 120_000);
});
