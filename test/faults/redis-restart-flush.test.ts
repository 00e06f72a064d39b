import { describe, expect, it } from 'vitest';
import { createAgent } from './support/http.js';
import { DOMAINS, Ledger, steadyIntake } from './support/intake.js';
import { BusinessClock, newPrefix, sleep, startRappel, waitFor, type Stack } from './support/rappel.js';
import { privateRedisFixture } from './support/redis-fixture.js';
import {
  checkLedger,
  windowDueJobOf,
  eventCounts,
  expectNothingLostOrDuplicated,
  openQueue,
  statuses,
  unsentOutbox,
} from './support/verify.js';

const NINE = '2026-11-23T09:00:00+01:00';
const NINE_THIRTY = '2026-11-23T09:30:00+01:00';

/**
 * Scenario 4 (Redis backend): Redis is restarted (AOF: data kept), then flushed (data lost),
 * under steady intake. The API keeps answering, 201 or 503, never a lie; the workers resume
 * without a restart; the jobs the flush took (due timers, repeatable schedules) are restored by
 * the reconciler: every callback due at 09:00 is queued, once, within one 30 s sweep period.
 */
describe('Redis restarted, then flushed, under load (redis backend)', () => {
  const f = privateRedisFixture({ aof: true });

  it('keeps intake honest, resumes the workers and restores every job', async () => {
    const stack: Stack = {
      databaseUrl: f.db.url,
      redisUrl: f.redis.url,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T08:59:30+01:00'),
      // The abuse limits count in Redis too (falling back to PostgreSQL while it is away).
      env: { RATE_LIMIT_PER_IP_PER_MINUTE: '1000000', RATE_LIMIT_PER_PHONE_PER_DAY: '5' },
    };
    const [api, worker] = await Promise.all([startRappel(stack, 'api'), startRappel(stack, 'worker')]);
    // Ten informateurs per domain: 1,000 places in each window, more than the load books (with
    // three, a faster intake filled all 2,400 places and met SLOT_FULL).
    for (const d of DOMAINS) for (let i = 0; i < 10; i++) await createAgent(api.baseUrl, [d]);
    const untilNine = stack.clock.msUntil(NINE);
    expect(untilNine, 'processes started too slowly for the 09:00 timeline').toBeGreaterThan(11_000);

    const ledger = new Ledger();
    const windows = [NINE, NINE_THIRTY];
    const load = steadyIntake({
      target: () => api.baseUrl,
      ledger,
      concurrency: 4,
      pauseMs: 20,
      next: (i) => ledger.slot(DOMAINS[i % 4]!, windows[Math.floor(i / 4) % 2]!),
    });
    await sleep(1_500);
    await f.redis.stop();
    await sleep(1_500);
    await f.redis.start(); // the append-only file brings every key back
    await sleep(1_500);
    // Flushed well before 09:00, so that the 09:00 due jobs it takes had not fired yet.
    await sleep(Math.max(0, stack.clock.msUntil(NINE) - 6_000));
    await f.redis.flushAll();
    const flushedAt = Date.now();
    await sleep(2_000);
    await load.stop();

    const answers = ledger.statuses();
    expect(Object.keys(answers).sort(), JSON.stringify(answers)).toEqual(
      Object.keys(answers)
        .filter((k) => k === '201' || k === '503')
        .sort(),
    );
    const slowest = Math.max(...ledger.requests.flatMap((r) => r.answers.map((a) => a.ms)));
    expect(slowest, 'no request hangs more than 5 s').toBeLessThan(5_000);
    expectNothingLostOrDuplicated(await checkLedger(f.sql, ledger), 20);

    const acked = ledger.acked().map((r) => ({ req: r, id: r.answers.find((a) => a.status === 201)!.id! }));
    const dueAtNine = acked.filter((a) => a.req.body.slotStart === NINE).map((a) => a.id);
    await waitFor(
      'every callback due at 09:00 queued',
      async () => {
        const st = await statuses(f.sql, dueAtNine);
        return dueAtNine.every((id) => st.get(id) === 'queued') ? true : undefined;
      },
      stack.clock.msUntil(NINE) + 40_000,
    );
    const queuedAfterMs = Date.now() - flushedAt;
    await waitFor(
      'the outbox relayed',
      async () => ((await unsentOutbox(f.sql)) === 0 ? true : undefined),
      40_000,
    );
    const events = await eventCounts(
      f.sql,
      acked.map((a) => a.id),
    );
    const st = await statuses(
      f.sql,
      acked.map((a) => a.id),
    );
    const { queue, close } = await openQueue(stack);
    try {
      for (const { req, id } of acked) {
        if (req.body.slotStart === NINE) expect(events.get(id)).toEqual({ created: 1, queued: 1 });
        else {
          expect(st.get(id)).toBe('scheduled');
          expect(events.get(id)).toEqual({ created: 1 });
        }
      }
      // Bookings made after the flush were enqueued by the same API, without a restart.
      const after = acked.filter(
        (a) => a.req.body.slotStart === NINE_THIRTY && a.req.answers.some((x) => x.status === 201),
      );
      const late = after.slice(-3);
      for (const { req } of late)
        expect(await windowDueJobOf(queue, f.sql, req.body.domain as string, NINE_THIRTY)).toBeDefined();
    } finally {
      await close();
    }
    expect(api.hasExited() || worker.hasExited(), 'a process died').toBe(false);
    console.log('redis restart+flush', { answers, acked: acked.length, queuedAfterMs });
  });
});
