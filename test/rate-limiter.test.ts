import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createKysely } from '../src/db/kysely.js';
import {
  createPostgresRateLimiter,
  createRedisRateLimiter,
  phoneBucket,
  type RateLimiter,
} from '../src/services/rate-limiter.js';
import { createTestDatabase } from './support/runtime.js';
import { TEST_REDIS_URL } from './support/env.js';

const log = pino({ level: 'silent' });

/** Both limiters: a refused hit is not counted; a hit taken back frees a place, in its own window only. */
describe('rate limiter refunds', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: pg.Pool;
  let redis: Redis;
  const namespace = `rl-test-${randomUUID()}`;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await pool?.end();
    await db?.drop();
  });

  const limiters = (clock: ManualClock): [string, RateLimiter][] => {
    const postgres = createPostgresRateLimiter(createKysely(pool), clock, log);
    return [
      ['postgres', postgres],
      ['redis', createRedisRateLimiter(redis, postgres, clock, log, namespace)],
    ];
  };

  it('gives a refunded hit back, and a 429 refunded keeps the count at the limit', async () => {
    const clock = new ManualClock(DateTime.fromISO('2026-11-23T10:00:00+01:00', { setZone: true }));
    for (const [name, limiter] of limiters(clock)) {
      const key = `phone:${name}-${randomUUID()}`;
      const first = await limiter.hit(key, 2, 86_400);
      expect((await limiter.hit(key, 2, 86_400)).allowed, name).toBe(true);
      const third = await limiter.hit(key, 2, 86_400);
      expect(third.allowed, name).toBe(false);
      await third.refund();
      await first.refund();
      // Two counted minus one refunded: one place left, then none.
      expect((await limiter.hit(key, 2, 86_400)).allowed, name).toBe(true);
      expect((await limiter.hit(key, 2, 86_400)).allowed, name).toBe(false);
    }
  });

  it('does not count refused hits: a flood past the limit leaves the count at the limit', async () => {
    const clock = new ManualClock(DateTime.fromISO('2026-11-23T10:00:00+01:00', { setZone: true }));
    for (const [name, limiter] of limiters(clock)) {
      const key = `ip:${name}-${randomUUID()}`;
      const first = await limiter.hit(key, 2, 60);
      expect((await limiter.hit(key, 2, 60)).allowed, name).toBe(true);
      // PostgreSQL: not even locked (a lock leaves the refusing transaction's id in the row's xmax).
      const xmax = async () =>
        (
          await pool.query<{ xmax: string }>('SELECT xmax::text AS xmax FROM rate_limits WHERE bucket = $1', [
            `${key}:60`,
          ])
        ).rows[0]?.xmax;
      const before = await xmax();
      for (let i = 0; i < 5; i++) expect((await limiter.hit(key, 2, 60)).allowed, name).toBe(false);
      if (name === 'postgres') expect(await xmax()).toBe(before);
      // Counted past the limit, the five refusals would still hold the window after this refund.
      await first.refund();
      expect((await limiter.hit(key, 2, 60)).allowed, name).toBe(true);
      expect((await limiter.hit(key, 2, 60)).allowed, name).toBe(false);
    }
    const [stored] = await redis.keys(`${namespace}:rl:ip:redis-*`);
    expect(await redis.get(stored!)).toBe('2');
    expect(await redis.pttl(stored!)).toBeGreaterThan(60_000);
    const rows = await pool.query<{ count: number }>(
      "SELECT count FROM rate_limits WHERE bucket LIKE 'ip:postgres-%'",
    );
    expect(rows.rows).toEqual([{ count: 2 }]);
  });

  it('counts a demand once, concurrent hits included; only its first hit takes it back', async () => {
    const clock = new ManualClock(DateTime.fromISO('2026-11-23T10:00:00+01:00', { setZone: true }));
    for (const [name, limiter] of limiters(clock)) {
      const key = `phone:${name}-${randomUUID()}`;
      const burst = await Promise.all(Array.from({ length: 6 }, () => limiter.hit(key, 2, 86_400, 'd1')));
      expect(
        burst.map((r) => r.allowed),
        name,
      ).toEqual(Array(6).fill(true));
      expect(
        burst.filter((r) => !r.alreadyCounted),
        name,
      ).toHaveLength(1);
      if (name === 'postgres') {
        // A copy of a demand counted already writes nothing, not even a lock on its mark.
        const mark = `${key}:86400@d1`;
        const xmax = async () =>
          (
            await pool.query<{ xmax: string }>(
              'SELECT xmax::text AS xmax FROM rate_limits WHERE bucket = $1',
              [mark],
            )
          ).rows[0]?.xmax;
        const before = await xmax();
        expect((await limiter.hit(key, 2, 86_400, 'd1')).alreadyCounted).toBe(true);
        expect(await xmax()).toBe(before);
      }
      expect((await limiter.hit(key, 2, 86_400, 'd2')).allowed, name).toBe(true);
      expect((await limiter.hit(key, 2, 86_400, 'd3')).allowed, name).toBe(false);
      expect((await limiter.hit(key, 2, 86_400)).allowed, name).toBe(false);
      // Refunds of the copies are no-ops; the hit that counted d1 gives its place back.
      for (const r of burst) await r.refund();
      expect((await limiter.hit(key, 2, 86_400, 'd3')).allowed, name).toBe(true);
      expect((await limiter.hit(key, 2, 86_400, 'd1')).allowed, name).toBe(false);
    }
  });

  it('takes nothing from the next window, and never goes below zero', async () => {
    const clock = new ManualClock(DateTime.fromISO('2026-11-23T23:59:00+01:00', { setZone: true }));
    for (const [name, limiter] of limiters(clock)) {
      clock.set(DateTime.fromISO('2026-11-23T23:59:00+01:00', { setZone: true }));
      const key = `phone:${name}-${randomUUID()}`;
      const yesterday = await limiter.hit(key, 1, 86_400);
      clock.advance({ minutes: 2 }); // past midnight in Paris: a new day's window
      expect((await limiter.hit(key, 1, 86_400)).allowed, name).toBe(true);
      await yesterday.refund();
      await yesterday.refund();
      expect((await limiter.hit(key, 1, 86_400)).allowed, name).toBe(false);
    }
  });

  it('keeps a Redis day window until that Paris day ends, on the 25-hour day too', async () => {
    // 2026-10-25: clocks go back at 03:00 in Paris; the day ends 24 h 30 min after 00:30.
    const clock = new ManualClock(DateTime.fromISO('2026-10-25T00:30:00+02:00', { setZone: true }));
    const [, [, limiter]] = limiters(clock) as [unknown, [string, RateLimiter]];
    const key = `phone:${randomUUID()}`;
    expect((await limiter.hit(key, 1, 86_400)).allowed).toBe(true);
    const [stored] = await redis.keys(`${namespace}:rl:${key}:*`);
    const ttl = await redis.pttl(stored!);
    expect(ttl).toBeGreaterThan(24.5 * 3_600_000);
    expect(ttl).toBeLessThanOrEqual(24.5 * 3_600_000 + 60_000);
  });

  it('does not bring back an expired Redis window as a negative count', async () => {
    const clock = new ManualClock(DateTime.fromISO('2026-11-23T10:00:00+01:00', { setZone: true }));
    const [, [, limiter]] = limiters(clock) as [unknown, [string, RateLimiter]];
    const key = `phone:${randomUUID()}`;
    const hit = await limiter.hit(key, 1, 60);
    const stored = await redis.keys(`${namespace}:rl:${key}:*`);
    expect(stored).toHaveLength(1);
    await redis.del(stored[0]!); // as if it had expired
    await hit.refund();
    expect(await redis.exists(stored[0]!)).toBe(0);
  });
});

describe('phoneBucket', () => {
  it('is keyed by the deployment secret: without it, a bucket cannot be matched to a number', () => {
    const e164 = '+33612345678';
    const bucket = phoneBucket(e164, 'secret-a');
    expect(bucket).toMatch(/^[0-9a-f]{24}$/);
    expect(phoneBucket(e164, 'secret-a')).toBe(bucket); // every process of a deployment agrees
    expect(phoneBucket(e164, 'secret-b')).not.toBe(bucket);
    expect(phoneBucket('+33612345679', 'secret-a')).not.toBe(bucket);
    // Not the unkeyed hash it used to be, which anyone could compute for every mobile number.
    const unkeyed = createHash('sha256')
      .update(`rappel-phone:${e164}`)
      .digest()
      .subarray(0, 12)
      .toString('hex');
    expect(bucket).not.toBe(unkeyed);
    expect(phoneBucket(e164)).not.toBe(unkeyed);
  });
});
