import pg from 'pg';
import type { Logger } from 'pino';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from '../config.js';

// int8 (counts, bigserial ids) as numbers: our values stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// dates stay 'YYYY-MM-DD' strings: a Paris calendar date must never go through a JS Date.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

/** How much longer than the statement timeout the client waits for any answer at all. */
const QUERY_TIMEOUT_MARGIN_MS = 5_000;

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /** DB_STATEMENT_TIMEOUT_MS. */
  statementTimeoutMs?: number;
  /** How long the client waits for an answer (default: the statement timeout + 5 s). */
  readTimeoutMs?: number;
}

/**
 * A pg pool whose client errors are logged instead of crashing the process
 * (a terminated backend emits 'error' on its client; unhandled, it would kill Node).
 */
export function createPool(connectionString: string, log: Logger, opts: PoolOptions = {}): pg.Pool {
  const statementTimeoutMs = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'rappel',
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    // PostgreSQL itself cancels a statement that runs (or waits for a lock) this long, and rolls
    // its transaction back: the request answers 503 with nothing written. Without it, pg's
    // client-side query_timeout alone gave up on the statement while the server went on, so a
    // booking stuck behind a lock committed after its request had been answered with an error.
    statement_timeout: statementTimeoutMs,
    // Last resort for a server that does not answer at all (frozen host, partition): later than
    // statement_timeout, so that a server that answers has cancelled the statement first.
    query_timeout: opts.readTimeoutMs ?? statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
  });
  pool.on('error', (err) => log.warn({ err: { message: err.message } }, 'postgres idle client error'));
  // The pool listens for errors of idle clients only. A client checked out between two
  // statements (inside a transaction) whose session is terminated emits 'error' with no
  // listener, which kills the process; with this one, the next statement fails instead (the
  // request answers 503) and the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug({ err: { message: err.message } }, 'postgres client error'));
    endOnReadTimeout(client, log);
  });
  return pool;
}

/**
 * A client whose statement got no answer in time is ended, never used again. pg gives up on
 * the statement but keeps the session, where the statement may still run once the server (or
 * the network) answers again: a BEGIN that did so left the session in a transaction that never
 * ended, and the next requests on that pooled client (bookings answered 201) ran inside it,
 * uncommitted, until a rollback threw them away. Ended, the pool drops the client at its
 * release, and a statement the server reads afterwards dies with the session.
 */
function endOnReadTimeout(client: pg.PoolClient, log: Logger): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result; // callback forms: pg-pool's release(err) drops the client
    return result.catch((err: unknown) => {
      if (err instanceof Error && err.message === 'Query read timeout') {
        log.warn('postgres: no answer in time, the session is closed');
        client.end().catch(() => undefined);
      }
      throw err;
    });
  };
}
