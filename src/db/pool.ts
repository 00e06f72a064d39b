import pg from 'pg';
import type { Logger } from 'pino';

// int8 (counts, bigserial ids) as numbers: our values stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// dates stay 'YYYY-MM-DD' strings: a Paris calendar date must never go through a JS Date.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export interface PoolOptions {
  max?: number;
  applicationName?: string;
}

/**
 * A pg pool whose client errors are logged instead of crashing the process
 * (a terminated backend emits 'error' on its client; unhandled, it would kill Node).
 */
export function createPool(connectionString: string, log: Logger, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'rappel',
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    query_timeout: 15_000,
  });
  pool.on('error', (err) => log.warn({ err: { message: err.message } }, 'postgres idle client error'));
  // The pool listens for errors of idle clients only. A client checked out between two
  // statements (inside a transaction) whose session is terminated emits 'error' with no
  // listener, which kills the process; with this one, the next statement fails instead (the
  // request answers 503) and the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug({ err: { message: err.message } }, 'postgres client error'));
  });
  return pool;
}
