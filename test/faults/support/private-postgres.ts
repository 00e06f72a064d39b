import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { freePort } from '../../support/processes.js';
import { migrate } from '../../../src/db/migrator.js';
import { createPool } from '../../../src/db/pool.js';
import { atExit } from './cleanup.js';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL of the test's own (own port, own data directory under a tmp dir), from the
 * machine's binaries, run as the `postgres` OS user: the tests that stop, restart or terminate
 * PostgreSQL do it here, never to the shared instance on 5432.
 */
export interface PrivatePostgres {
  readonly port: number;
  /** Connection string to a database of this instance (default `rappel`, created and migrated). */
  url(database?: string): string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: sessions terminated, clean shutdown. */
  stop(): Promise<void>;
  /** Terminates every client backend on `rappel` but the test's own (application_name faults-test). */
  terminateBackends(): Promise<number>;
  destroy(): Promise<void>;
}

async function asPostgres(cmd: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { timeout: 60_000 });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rappel-faults-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  await chown(dir, uid, gid);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const ctl = (...args: string[]) => asPostgres('pg_ctl', ['-D', data, ...args]);
  let running = false;
  const unregister = atExit(() => {
    if (running) {
      try {
        execFileSync(
          'runuser',
          ['-u', 'postgres', '--', path.join(BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'],
          {
            stdio: 'ignore',
            timeout: 20_000,
          },
        );
      } catch {
        // already stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${dir}`,
    '-c fsync=off', // clean shutdowns only: nothing is lost, and initdb/start stay fast
    '-c max_connections=200',
  ].join(' ');
  const url = (database = 'rappel') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const instance: PrivatePostgres = {
    port,
    url,
    async start() {
      await ctl('-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start');
      running = true;
    },
    async stop() {
      await ctl('-m', 'fast', '-w', '-t', '60', 'stop');
      running = false;
    },
    async terminateBackends() {
      const c = new pg.Client({ connectionString: url(), application_name: 'faults-test' });
      await c.connect();
      try {
        const r = await c.query(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE datname = 'rappel' AND backend_type = 'client backend' AND application_name <> 'faults-test'`,
        );
        return (r.rows[0] as { n: number }).n;
      } finally {
        await c.end();
      }
    },
    async destroy() {
      if (running) await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      running = false;
      unregister();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await instance.start();
  const admin = new pg.Client({ connectionString: url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE rappel');
  await admin.end();
  const pool = createPool(url(), pino({ level: 'silent' }), { max: 2 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return instance;
}
