import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase } from '../../support/runtime.js';
import { killAllChildren } from '../../support/processes.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';

export interface RedisFixture {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  sql: pg.Pool;
  redis: PrivateRedis;
}

/**
 * A test database and a redis-server of the suite's own, for the suites that stop, freeze or
 * flush Redis; the children a test started are killed after it, everything else after the suite.
 * The fields are set once the suite's beforeAll has run.
 */
export function privateRedisFixture(opts: { aof?: boolean } = {}): RedisFixture {
  const f = {} as RedisFixture;
  beforeAll(async () => {
    [f.db, f.redis] = await Promise.all([createTestDatabase(), startPrivateRedis(opts)]);
    f.sql = new pg.Pool({ connectionString: f.db.url, max: 3 });
  });
  afterEach(async () => {
    await killAllChildren();
  });
  afterAll(async () => {
    await f.sql?.end();
    await f.db?.drop();
    await f.redis?.destroy();
  });
  return f;
}
