import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { migrate } from '../../src/db/migrator.js';
import { createPool } from '../../src/db/pool.js';
import { TEST_PG_ADMIN_URL, databaseUrl } from './env.js';

/**
 * Migrates once into a template database named after the migrations' content; each test file
 * then gets its own database copied from it (CREATE DATABASE ... TEMPLATE), which takes ~100 ms.
 */
export default async function setup({ provide }: { provide: (key: string, value: unknown) => void }) {
  const dir = path.resolve(import.meta.dirname, '../../migrations');
  const hash = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) hash.update(f).update(await readFile(path.join(dir, f)));
  hash.update(
    (
      JSON.parse(
        await readFile(path.resolve(import.meta.dirname, '../../node_modules/bullmq/package.json'), 'utf8'),
      ) as { version: string }
    ).version,
  );
  const template = `rappel_tpl_${hash.digest('hex').slice(0, 12)}`;

  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    // Serialise concurrent `vitest` runs that would build the same template.
    await admin.query('SELECT pg_advisory_lock(4242)');
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (exists.rowCount === 0) {
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}`);
      const pool = createPool(databaseUrl(building), pino({ level: 'silent' }), { max: 2 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
    await admin.query('SELECT pg_advisory_unlock(4242)');
  } finally {
    await admin.end();
  }
  provide('templateDatabase', template);
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}
