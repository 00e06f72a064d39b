import net from 'node:net';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely } from '../src/db/kysely.js';
import { createPool } from '../src/db/pool.js';
import { isUnavailableError } from '../src/http/errors.js';
import { TEST_PG_ADMIN_URL } from './support/env.js';
import { createTestDatabase } from './support/runtime.js';

/**
 * A TCP relay to the real PostgreSQL that can stop relaying (a frozen proxy, host or link): the
 * bytes sent meanwhile wait in it and go on when it thaws, as a real network would deliver them.
 */
async function freezableRelay(target: URL) {
  const pairs: [net.Socket, net.Socket][] = [];
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    pairs.push([client, upstream]);
    if (frozen) client.pause();
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      frozen = true;
      for (const [c, u] of pairs) {
        c.pause();
        u.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [c, u] of pairs) {
        c.resume();
        u.resume();
      }
    },
    async close() {
      for (const [c, u] of pairs) {
        c.destroy();
        u.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}

describe('a PostgreSQL that stops answering mid-statement', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let relay: Awaited<ReturnType<typeof freezableRelay>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    relay = await freezableRelay(new URL(TEST_PG_ADMIN_URL));
  });
  afterAll(async () => {
    await relay?.close();
    await db?.drop();
  });

  const hangingPool = () => {
    const url = new URL(db.url);
    url.host = `127.0.0.1:${relay.port}`;
    const pool = createPool(url.toString(), pino({ level: 'silent' }), {
      max: 1,
      statementTimeoutMs: 5_000,
      readTimeoutMs: 300,
    });
    return createKysely(pool);
  };
  // Each statement its own transaction: now() is the statement's own start.
  const fresh = async (kdb: ReturnType<typeof hangingPool>) =>
    (await sql<{ fresh: boolean }>`SELECT now() = statement_timestamp() AS fresh`.execute(kdb)).rows[0]!
      .fresh;
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (err: unknown) => err,
    );

  it('never gives the session back to the pool: a BEGIN delivered late left the next requests inside a transaction', async () => {
    const kdb = hangingPool();
    try {
      await sql`SELECT 1`.execute(kdb); // the pool's one session is open
      relay.freeze();
      const failed = await failure(kdb.transaction().execute((tx) => sql`SELECT 1`.execute(tx)));
      expect(isUnavailableError(failed), String(failed)).toBe(true); // answered 503
      relay.thaw(); // the BEGIN held in the relay reaches the server now
      await new Promise((r) => setTimeout(r, 300));
      expect(await fresh(kdb)).toBe(true);
    } finally {
      relay.thaw();
      await kdb.destroy();
    }
  });

  it('answers 503 for a statement inside a transaction, whose rollback cannot be sent, and the pool goes on', async () => {
    const kdb = hangingPool();
    try {
      const failed = await failure(
        kdb.transaction().execute(async (tx) => {
          await sql`SELECT 1`.execute(tx);
          relay.freeze();
          await sql`SELECT 2`.execute(tx);
        }),
      );
      expect(isUnavailableError(failed), String(failed)).toBe(true);
      relay.thaw();
      await new Promise((r) => setTimeout(r, 300));
      expect(await fresh(kdb)).toBe(true);
    } finally {
      relay.thaw();
      await kdb.destroy();
    }
  });
});
