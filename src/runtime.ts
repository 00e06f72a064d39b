import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { offsetClock, systemClock, type Clock } from './clock.js';
import { createPool } from './db/pool.js';
import { createKysely } from './db/kysely.js';
import { migrate } from './db/migrator.js';
import type { DB } from './db/schema.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import {
  createPostgresQueueBackend,
  createRedisBackend,
  type QueueBackend,
  type QueueHandle,
} from './queue/connection.js';
import { MAIN_QUEUE } from './queue/jobs.js';
import { createServices, type Services } from './services/index.js';
import { SLOTS_CHANNEL, SlotCache } from './services/slot-cache.js';
import { createListener } from './db/listener.js';
import { seedDemo } from './services/seed.js';
import type { HealthCheck } from './app.js';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import {
  createPostgresRateLimiter,
  createRedisRateLimiter,
  type RateLimiter,
} from './services/rate-limiter.js';

export interface Runtime {
  config: Config;
  log: Logger;
  clock: Clock;
  databaseUrl: string;
  pool: pg.Pool;
  db: Kysely<DB>;
  queueBackend: QueueBackend;
  queue: QueueHandle;
  services: Services;
  health: HealthCheck;
  opsToken: string;
  close(): Promise<void>;
}

/** application_name of the connection that LISTENs for slot changes (see pg_stat_activity). */
export const SLOT_LISTENER_NAME = 'rappel-slot-listener';

export interface RuntimeOptions {
  clock?: Clock;
  /** Skip migrations (tests start from an already migrated template database). */
  skipMigrations?: boolean;
  /** Called if the embedded database stops by itself: the process cannot serve anything then. */
  onDatabaseLost?: () => void;
}

async function resolveOpsToken(config: Config, log: Logger): Promise<string> {
  if (config.opsApiToken) return config.opsApiToken;
  const file = path.resolve(config.dataDir, 'ops-token');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 16) {
      log.info({ path: file }, 'ops token read from file (development only)');
      return existing;
    }
  } catch {
    // first start: generate it below
  }
  await mkdir(path.dirname(file), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, token + '\n', { mode: 0o600 });
  log.info({ path: file }, 'ops token generated (development only)');
  return token;
}

/** Longest a rate-limit count waits for Redis before PostgreSQL counts it instead. */
const RATE_LIMIT_REDIS_TIMEOUT_MS = 500;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Connects everything the API and the workers share, in order; `close()` undoes it in reverse. */
export async function createRuntime(
  config: Config,
  log: Logger,
  opts: RuntimeOptions = {},
): Promise<Runtime> {
  const clock = opts.clock ?? (config.appNow ? offsetClock(config.appNow) : systemClock());
  if (config.appNow) log.warn({ appNow: config.appNow.toISO() }, 'APP_NOW set: business time is shifted');
  // `true` trusts whatever a client writes first in X-Forwarded-For: the per-IP limit is then
  // the client's to choose (an outside review booked a domain's whole horizon from one host).
  if (config.trustProxy === true)
    log.warn(
      'TRUST_PROXY=true: the client address is the first X-Forwarded-For entry, which any client can write; list the proxies instead',
    );

  let embedded: EmbeddedDatabase | null = null;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    // Taken out before running: a second call finds nothing left (reversing in place twice
    // would have run them again, from the database on).
    for (const c of closers.splice(0).reverse()) {
      await c().catch((err: Error) => log.warn({ err: { message: err.message } }, 'error while closing'));
    }
  };
  try {
    if (config.databaseUrl === null) {
      embedded = await startEmbeddedPostgres(config.dataDir, log, opts.onDatabaseLost);
      const db = embedded;
      closers.push(() => db.stop());
    }
    const databaseUrl = config.databaseUrl ?? embedded!.url;
    const pool = createPool(databaseUrl, log, { max: 10, statementTimeoutMs: config.dbStatementTimeoutMs });
    closers.push(() => pool.end());
    if (!opts.skipMigrations) {
      const { applied } = await migrate(pool);
      if (applied.length > 0) log.info({ applied }, 'migrations applied');
    }
    const db = createKysely(pool);

    const queueBackend = config.redisUrl
      ? createRedisBackend(config.redisUrl, config.queuePrefix, log)
      : createPostgresQueueBackend(databaseUrl, log);
    closers.push(() => queueBackend.close());
    const queue = queueBackend.createQueue(
      config.redisUrl ? MAIN_QUEUE : `${config.queuePrefix}-${MAIN_QUEUE}`,
    );

    const opsToken = await resolveOpsToken(config, log);
    let limiter: RateLimiter | undefined;
    if (config.redisUrl) {
      const redis = new Redis(config.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        // A Redis that keeps its connections but stops answering (stopped process, frozen host)
        // sends no error: without a bound every booking waited on its count for ever, and the
        // hung requests filled MAX_IN_FLIGHT_REQUESTS until even the desk answered 503. Timed
        // out, the count goes to PostgreSQL like any Redis failure.
        commandTimeout: RATE_LIMIT_REDIS_TIMEOUT_MS,
      });
      redis.on('error', () => undefined); // the limiter logs its own fallbacks
      closers.push(async () => redis.disconnect());
      limiter = createRedisRateLimiter(
        redis,
        createPostgresRateLimiter(db, clock, log),
        clock,
        log,
        config.queuePrefix,
      );
    }
    // API processes keep slot listings in memory, dropped on PostgreSQL's change notifications.
    let slotCache: SlotCache | undefined;
    if (config.role !== 'worker' && config.slotsCacheMs > 0) {
      const cache = new SlotCache(config.slotsCacheMs);
      const listener = createListener({
        connectionString: databaseUrl,
        channel: SLOTS_CHANNEL,
        applicationName: SLOT_LISTENER_NAME,
        log,
        onNotification: (payload) => cache.onNotification(payload),
        onLive: (live) => cache.setLive(live),
      });
      closers.push(() => listener.close());
      await listener.start();
      slotCache = cache;
    }
    const services = createServices(
      { config, clock, log, db, queue },
      { limiter, slotCache, bucketSecret: opsToken },
    );
    // Sent marks still batched go out before the pool closes (else the next sweep re-sends them).
    closers.push(() => services.outbox.flush());
    // Slot changes not yet announced go too (else other processes hold stale lists until TTL).
    closers.push(() => services.slotAnnouncer.flush());
    // Per-phone counts still being settled (a key that was in use) end before Redis and the pool.
    closers.push(() => services.intake.settled());

    if (config.seedDemo) {
      const file = await seedDemo({ config, clock, log, db, queue }, services.agents);
      if (file)
        log.info({ path: file }, 'demo informateurs created (SEED_DEMO); their tokens are in this file');
    }

    const health: HealthCheck = {
      async check() {
        const [database, queueState] = await Promise.allSettled([
          withTimeout(sql`SELECT 1`.execute(db), 1_500),
          queue.ping(1_500),
        ]);
        return {
          database: database.status === 'fulfilled' ? 'ok' : 'unavailable',
          queue: queueState.status === 'fulfilled' ? 'ok' : 'unavailable',
        };
      },
    };

    return {
      config,
      log,
      clock,
      databaseUrl,
      pool,
      db,
      queueBackend,
      queue,
      services,
      health,
      opsToken,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
