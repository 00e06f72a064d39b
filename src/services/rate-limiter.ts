import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { DateTime } from 'luxon';
import { PARIS } from '../domain/calendar/index.js';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import type { Clock } from '../clock.js';
import { demandState, hit, markDemand, unhit, unmarkDemand } from '../repositories/rate-limits.js';
import { repeatLimitedWarn } from '../logger.js';

export interface LimitResult {
  allowed: boolean;
  /** Allowed without being counted: its demand was counted already, by another hit. */
  alreadyCounted: boolean;
  retryAfterSeconds: number;
  /**
   * Takes this hit back, for a request that turned out not to be what the limit counts. Never
   * throws; nothing to do for a refused hit, which was not counted.
   */
  refund(): Promise<void>;
}

export interface RateLimiter {
  /**
   * Counts one hit of `key` in the current fixed window of `windowSeconds` if fewer than `limit`
   * (at least 1: a limit of 0, "disabled", is the caller's to skip) are counted there; refused
   * (and not counted) otherwise. A `demand` (an Idempotency-Key's
   * hash) is counted once per window: its later hits, concurrent ones included, are allowed
   * without being counted, and only the hit that counted it can take it back.
   */
  hit(key: string, limit: number, windowSeconds: number, demand?: string): Promise<LimitResult>;
}

/** IPv4 as is; IPv6 counted by its /64, since one subscriber usually holds a whole /64. */
export function ipBucket(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped) return v4mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Phone numbers never become keys in clear: the bucket is an HMAC of the number keyed with a
 * secret of the deployment. A plain hash of it (Redis keys, `rate_limits.bucket`) was turned back
 * into its number in 101 s on one thread by trying every French mobile (outside review
 * helper-53). Without a secret (tests building services by hand), a fixed label keys it.
 */
export function phoneBucket(e164: string, secret = 'rappel-phone'): string {
  return createHmac('sha256', secret)
    .update(`rappel/rate-limit/phone/v1:${e164}`)
    .digest()
    .subarray(0, 12)
    .toString('hex');
}

/** Fixed windows; a per-day limit counts the Paris day (it resets at midnight in Metz, not UTC). */
function windowOf(nowMs: number, windowSeconds: number) {
  if (windowSeconds === 86_400) {
    const day = DateTime.fromMillis(nowMs, { zone: PARIS }).startOf('day');
    const start = day.toMillis();
    return { index: Number(day.toFormat('yyyyLLdd')), start, end: day.plus({ days: 1 }).toMillis() };
  }
  const size = windowSeconds * 1000;
  const start = Math.floor(nowMs / size) * size;
  return { index: start / size, start, end: start + size };
}

/** What a hit did: counted (with the window's new count), refused, or its demand counted already. */
type Verdict = { counted: number } | 'refused' | 'already';

/**
 * The answer to a hit in window `w`. `undo` takes a counted hit back in its store; if that
 * fails, the hit stays counted (the limit errs towards refusing). A refused hit was not counted,
 * and a demand counted already is its first hit's to take back: nothing to undo for either.
 */
function limitResult(
  verdict: Verdict,
  w: { end: number },
  nowMs: number,
  undo: () => Promise<unknown>,
  log: Logger,
): LimitResult {
  return {
    allowed: verdict !== 'refused',
    alreadyCounted: verdict === 'already',
    retryAfterSeconds: Math.max(1, Math.ceil((w.end - nowMs) / 1000)),
    refund: async () => {
      if (typeof verdict !== 'object') return;
      await undo().then(
        () => undefined,
        (err: Error) =>
          log.warn({ err: { message: err.message } }, 'rate limiter: refund failed, hit stays counted'),
      );
    },
  };
}

/** Thrown inside the transaction to roll back a demand's mark when its hit is refused. */
class Refused extends Error {}

/**
 * A demand's mark and its count, committed together or not at all. A copy marking the same
 * demand at the same moment waits for this transaction, then finds it marked ('already').
 */
async function markAndCount(
  db: Kysely<DB>,
  bucket: string,
  demandBucket: string,
  limit: number,
  start: Date,
  end: Date,
): Promise<Verdict> {
  try {
    return await db.transaction().execute(async (tx) => {
      if (!(await markDemand(tx, demandBucket, start, end))) return 'already' as const;
      const count = await hit(tx, bucket, limit, start, end);
      if (count === null) throw new Refused();
      return { counted: count };
    });
  } catch (err) {
    if (err instanceof Refused) return 'refused';
    throw err;
  }
}

export function createPostgresRateLimiter(db: Kysely<DB>, clock: Clock, log: Logger): RateLimiter {
  return {
    async hit(key, limit, windowSeconds, demand) {
      const nowMs = clock.now().toMillis();
      const w = windowOf(nowMs, windowSeconds);
      const bucket = `${key}:${windowSeconds}`;
      const [start, end] = [new Date(w.start), new Date(w.end)];
      if (demand === undefined) {
        const count = await hit(db, bucket, limit, start, end);
        return limitResult(
          count === null ? 'refused' : { counted: count },
          w,
          nowMs,
          () => unhit(db, bucket, end),
          log,
        );
      }
      const demandBucket = `${bucket}@${demand}`;
      const undo = () =>
        db.transaction().execute(async (tx) => {
          await unmarkDemand(tx, demandBucket, end);
          await unhit(tx, bucket, end);
        });
      // Copies of a demand counted already, and demands past the limit, go no further: read
      // without a lock, they write nothing.
      const state = await demandState(db, bucket, demandBucket, limit, start);
      const verdict: Verdict = state.marked
        ? 'already'
        : state.full
          ? 'refused'
          : await markAndCount(db, bucket, demandBucket, limit, start, end);
      return limitResult(verdict, w, nowMs, undo, log);
    },
  };
}

/**
 * INCR only below the limit, in one round trip: a refused hit is not counted (nothing to take
 * back). With a demand (ARGV[3]), kept in a set beside the counter (KEYS[2]): a demand in the
 * set is not counted again. Answers the new count, -1 for a refusal, -2 for a demand counted
 * already. The keys live until a minute after the window ends (ARGV[2], ms).
 */
const HIT_SCRIPT = `if ARGV[3] and redis.call('sismember', KEYS[2], ARGV[3]) == 1 then return -2 end
local c = tonumber(redis.call('get', KEYS[1]) or '0')
if c >= tonumber(ARGV[1]) then return -1 end
c = redis.call('incr', KEYS[1])
redis.call('pexpire', KEYS[1], ARGV[2])
if ARGV[3] then
  redis.call('sadd', KEYS[2], ARGV[3])
  redis.call('pexpire', KEYS[2], ARGV[2])
end
return c`;

/**
 * DECR only above 0, and so only while the window's key lives: a DECR on an expired key would
 * create it at -1, with no expiry. With a demand (ARGV[1]), its mark goes too.
 */
const REFUND_SCRIPT = `if ARGV[1] then redis.call('srem', KEYS[2], ARGV[1]) end
if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then return redis.call('decr', KEYS[1]) end
return 0`;

/**
 * Shared across API processes through Redis (INCR on a key per window). If Redis fails, the
 * PostgreSQL limiter takes over rather than refusing citizens or dropping the limit.
 */
export function createRedisRateLimiter(
  redis: Redis,
  fallback: RateLimiter,
  clock: Clock,
  log: Logger,
  namespace: string,
): RateLimiter {
  // Once per 30 s and message while Redis is down: it was one line per booking.
  const redisDown = repeatLimitedWarn(log, 'rate limiter: redis unavailable, using PostgreSQL');
  return {
    async hit(key, limit, windowSeconds, demand) {
      const nowMs = clock.now().toMillis();
      const w = windowOf(nowMs, windowSeconds);
      // Namespaced like the queues, so deployments (and test runs) sharing a Redis never share counters.
      const redisKey = `${namespace}:rl:${key}:${windowSeconds}:${w.index}`;
      const keys = [redisKey, `${redisKey}:demands`];
      const demandArg = demand === undefined ? [] : [demand];
      try {
        // To the window's end (a Paris day lasts 23 or 25 hours twice a year), plus a minute.
        const ttl = String(w.end - nowMs + 60_000);
        const count = Number(await redis.eval(HIT_SCRIPT, 2, ...keys, String(limit), ttl, ...demandArg));
        const verdict: Verdict = count >= 0 ? { counted: count } : count === -1 ? 'refused' : 'already';
        return limitResult(verdict, w, nowMs, () => redis.eval(REFUND_SCRIPT, 2, ...keys, ...demandArg), log);
      } catch (err) {
        redisDown(err as Error);
        return fallback.hit(key, limit, windowSeconds, demand);
      }
    },
  };
}
