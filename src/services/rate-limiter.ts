import { isIP } from 'node:net';
import { DateTime } from 'luxon';
import { PARIS } from '../domain/calendar/index.js';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.js';
import type { Clock } from '../clock.js';
import { hit, unhit } from '../repositories/rate-limits.js';
import { sha256 } from './tokens.js';

export interface LimitResult {
  allowed: boolean;
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
   * are counted there; refused (and not counted) otherwise.
   */
  hit(key: string, limit: number, windowSeconds: number): Promise<LimitResult>;
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

/** Phone numbers never become keys in clear: the bucket is a hash. */
export function phoneBucket(e164: string): string {
  return sha256(`rappel-phone:${e164}`).subarray(0, 12).toString('hex');
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

/**
 * The answer to a hit: `counted` is its count in window `w`, or null if it was refused and not
 * counted. `undo` takes a counted hit back in its store; if that fails, the hit stays counted
 * (the limit errs towards refusing).
 */
function limitResult(
  counted: number | null,
  w: { end: number },
  nowMs: number,
  undo: () => Promise<unknown>,
  log: Logger,
): LimitResult {
  return {
    allowed: counted !== null,
    retryAfterSeconds: Math.max(1, Math.ceil((w.end - nowMs) / 1000)),
    refund: async () => {
      if (counted === null) return;
      await undo().then(
        () => undefined,
        (err: Error) =>
          log.warn({ err: { message: err.message } }, 'rate limiter: refund failed, hit stays counted'),
      );
    },
  };
}

export function createPostgresRateLimiter(db: Kysely<DB>, clock: Clock, log: Logger): RateLimiter {
  return {
    async hit(key, limit, windowSeconds) {
      const nowMs = clock.now().toMillis();
      const w = windowOf(nowMs, windowSeconds);
      const bucket = `${key}:${windowSeconds}`;
      const counted = await hit(db, bucket, limit, new Date(w.start), new Date(w.end));
      return limitResult(counted, w, nowMs, () => unhit(db, bucket, new Date(w.end)), log);
    },
  };
}

/**
 * DECR only above 0, and so only while the window's key lives: a DECR on an expired key would
 * create it at -1, with no expiry.
 */
/**
 * INCR only below the limit, in one round trip: a refused hit is not counted (nothing to take
 * back). Answers the new count, or -1 for a refusal. The expiry outlives the window by a minute.
 */
const HIT_SCRIPT = `local c = tonumber(redis.call('get', KEYS[1]) or '0')
if c >= tonumber(ARGV[1]) then return -1 end
c = redis.call('incr', KEYS[1])
redis.call('pexpire', KEYS[1], ARGV[2])
return c`;

const REFUND_SCRIPT =
  "if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then return redis.call('decr', KEYS[1]) end return 0";

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
  return {
    async hit(key, limit, windowSeconds) {
      const nowMs = clock.now().toMillis();
      const w = windowOf(nowMs, windowSeconds);
      // Namespaced like the queues, so deployments (and test runs) sharing a Redis never share counters.
      const redisKey = `${namespace}:rl:${key}:${windowSeconds}:${w.index}`;
      try {
        const count = Number(
          await redis.eval(HIT_SCRIPT, 1, redisKey, String(limit), String(windowSeconds * 1000 + 60_000)),
        );
        const counted = count >= 0 ? count : null;
        return limitResult(counted, w, nowMs, () => redis.eval(REFUND_SCRIPT, 1, redisKey), log);
      } catch (err) {
        log.warn(
          { err: { message: (err as Error).message } },
          'rate limiter: redis unavailable, using PostgreSQL',
        );
        return fallback.hit(key, limit, windowSeconds);
      }
    },
  };
}
