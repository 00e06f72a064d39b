import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import { runMigrations as runBullmqMigrations } from 'bullmq';

// Any constant shared by every Rappel process; distinct from BullMQ's own migration lock.
export const MIGRATION_LOCK_KEY = 0x52415050; // 'RAPP'

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

/** The database holds migrations this code does not have: it must not run on it. */
export class SchemaTooNewError extends Error {
  constructor(readonly unknown: string[]) {
    super(
      `the database was migrated by a newer Rappel (migrations unknown to this version: ${unknown.join(', ')}): run that version or a later one`,
    );
    this.name = 'SchemaTooNewError';
  }
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
  // A client of its own, on the pool's connection settings but without the service's
  // timeouts (a migration may rebuild an index of a million rows, or wait for another process's
  // migrations, Rappel's or BullMQ's): a pooled client would keep its query_timeout for the
  // statements BullMQ's migrations run on it.
  const client = new pg.Client({ ...pool.options, statement_timeout: undefined, query_timeout: undefined });
  client.on('error', () => undefined); // a broken session fails the statement under way instead
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    // A database migrated by a newer Rappel: this code does not know what those migrations
    // changed (an older process started on one ran its retention without 0007's erasures, and
    // nothing re-ran them after).
    const unknown = [...done].filter((name) => !files.includes(name)).sort();
    if (unknown.length > 0) throw new SchemaTooNewError(unknown);
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(dir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    if (opts.bullmqSchema !== false) await runBullmqMigrations(client);
  } finally {
    await client.end().catch(() => undefined); // ending the session releases its advisory lock
  }
  return { applied };
}
