import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { loadConfig } from '../../src/config.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { buildApp } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { TEST_PG_ADMIN_URL, TEST_REDIS_URL, databaseUrl } from './env.js';

export type Backend = 'postgres' | 'redis';
export const BACKENDS: Backend[] = ['postgres', 'redis'];
/** Settings of tests that are not about abuse limits (app.inject always comes from 127.0.0.1). */
export const NO_LIMITS = { RATE_LIMIT_PER_IP_PER_MINUTE: '0', RATE_LIMIT_PER_PHONE_PER_DAY: '0' };
export const OPS_TOKEN = 'test-ops-token-0123456789';

/** A fresh database for one test file, copied from the migrated template. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `rappel_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      try {
        // Sessions still closing (a queue backend's pool ends asynchronously) are let go first:
        // FORCE terminates them, and a client ending at that moment reports the termination as
        // an error nobody awaits any more.
        for (let i = 0; i < 50; i++) {
          const { rows } = await c.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          if (rows[0]!.n === 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestContext {
  rt: Runtime;
  app: FastifyInstance;
  clock: ManualClock;
  close(): Promise<void>;
}

/**
 * A real runtime (real PostgreSQL, real queue backend) on the given database, with its own
 * queue prefix and a manual clock; env overrides are contract settings.
 */
export async function startTestApp(
  dbUrl: string,
  backend: Backend,
  opts: { now?: string; env?: Record<string, string> } = {},
): Promise<TestContext> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: dbUrl,
    ...(backend === 'redis' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    OPS_API_TOKEN: OPS_TOKEN,
    QUEUE_PREFIX: prefix,
    SEED_DEMO: 'false',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const clock = new ManualClock(DateTime.fromISO(opts.now ?? '2026-11-23T08:00:00+01:00', { setZone: true }));
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const rt = await createRuntime(config, log, { clock, skipMigrations: true });
  const app = await buildApp({
    config,
    log,
    health: rt.health,
    services: rt.services,
    opsToken: rt.opsToken,
  });
  await app.ready();
  return {
    rt,
    app,
    clock,
    async close() {
      await app.close();
      await rt.queue.obliterate().catch(() => undefined);
      await rt.close();
    },
  };
}
