import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type pg from 'pg';
import { runMigrations as runBullmqMigrations } from 'bullmq';

// Any constant shared by every Rappel process; distinct from BullMQ's own migration lock.
export const MIGRATION_LOCK_KEY = 0x52415050; // 'RAPP'
// A migration may rebuild an index of a million rows, and a process may wait for another's
// migrations: neither is bound by the service's statement timeouts (src/db/pool.ts).
const MIGRATION_QUERY_TIMEOUT_MS = 6 * 3600_000;

async function migrationsDir(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [
    path.resolve(here, '../../migrations'),
    path.resolve(here, '../../../migrations'),
  ]) {
    try {
      await readdir(candidate);
      return candidate;
    } catch {
      // try the next layout (sources vs dist/)
    }
  }
  throw new Error('migrations/ folder not found');
}

export interface MigrationResult {
  applied: string[];
}

/**
 * Applies migrations/NNNN_name.sql in order, each in its own transaction, under an advisory
 * lock so that two processes starting together do not race; then BullMQ's own schema
 * (PostgreSQL queue backend), which takes its own lock.
 */
export async function migrate(
  pool: pg.Pool,
  opts: { bullmqSchema?: boolean } = {},
): Promise<MigrationResult> {
  const dir = await migrationsDir();
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) =>
    // pg reads query_timeout per query too (its types leave it out of QueryConfig).
    client.query<R>({ text, values, query_timeout: MIGRATION_QUERY_TIMEOUT_MS } as pg.QueryConfig);
  const applied: string[] = [];
  try {
    await query('SET statement_timeout = 0');
    await query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    const done = new Set(
      (await query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      await query('BEGIN');
      try {
        await query(sql);
        await query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await query('COMMIT');
      } catch (err) {
        await query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    if (opts.bullmqSchema !== false) await runBullmqMigrations(client);
  } finally {
    await query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    // The client goes back to the pool with the service's statement timeout again.
    await query('RESET statement_timeout').catch(() => undefined);
    client.release();
  }
  return { applied };
}
