import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError } from '../src/db/migrator.js';
import { createPool } from '../src/db/pool.js';
import { createTestDatabase } from './support/runtime.js';

describe('migrations', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, pino({ level: 'silent' }), { max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('have nothing to do on a database this version migrated', async () => {
    await expect(migrate(pool, { bullmqSchema: false })).resolves.toEqual({ applied: [] });
  });

  it('refuse a database migrated by a newer version, changing nothing', async () => {
    await pool.query(`INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')`);
    const before = (await pool.query('SELECT name FROM schema_migrations ORDER BY name')).rows;
    const refused = migrate(pool, { bullmqSchema: false });
    await expect(refused).rejects.toBeInstanceOf(SchemaTooNewError);
    await expect(refused).rejects.toThrow(/9999_from_the_future\.sql/);
    expect((await pool.query('SELECT name FROM schema_migrations ORDER BY name')).rows).toEqual(before);
  });
});
