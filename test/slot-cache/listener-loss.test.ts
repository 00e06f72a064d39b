import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../support/api.js';
import { TEST_PG_ADMIN_URL } from '../support/env.js';
import { createTestDatabase, startTestApp, type TestContext } from '../support/runtime.js';
import { NO_LIMITS } from '../intake/support.js';
import { SLOT_LISTENER_NAME } from '../../src/runtime.js';
import { eventually, list, quietly, remainingAt } from './support.js';

const TUE_0900 = '2026-11-24T09:00:00+01:00';
const Q = 'domain=travail&days=3';

/**
 * The app's LISTEN session is terminated (pg_terminate_backend) while new connections to the
 * database are refused (ALLOW_CONNECTIONS false), so that it stays down as long as the test
 * wants: whatever is committed meanwhile is announced to nobody.
 */
describe('slot listings when the LISTEN connection is lost', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let admin: pg.Client;
  let t: TestContext | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2, idleTimeoutMillis: 0 });
    admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
  });
  afterEach(async () => {
    await allowConnections(true);
    await t?.close();
    t = undefined;
    await sql.query('TRUNCATE window_load, agents, closures CASCADE');
  });
  afterAll(async () => {
    await sql?.end();
    await admin?.end();
    await db?.drop();
  });

  async function allowConnections(allow: boolean) {
    await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS ${allow}`);
  }

  async function listenerPids(): Promise<number[]> {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND query ILIKE 'LISTEN%'`,
      [db.name, SLOT_LISTENER_NAME],
    );
    return rows.map((r) => r.pid);
  }

  /** Cuts the listener off (and keeps it off): returns once its session is gone. */
  async function cutListener() {
    const [pid] = await listenerPids();
    expect(pid, 'the app has a listening session').toBeDefined();
    await allowConnections(false);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually('the listening session gone', async () => (await listenerPids()).length === 0, 5_000);
  }

  /** Whether listings are served from memory: a change without notification goes unseen. */
  async function servedFromMemory(): Promise<boolean> {
    const before = await list(t!.app, Q);
    await quietly(sql, `UPDATE window_load SET booked = 3 - booked WHERE domain = 'travail'`);
    return (await list(t!.app, Q)).body === before.body;
  }

  async function start() {
    t = await startTestApp(db.url, 'postgres', { env: { ...NO_LIMITS, SLOTS_CACHE_MS: '60000' } });
    await createAgent(t.app, ['travail']);
    await createAgent(t.app, ['travail']);
    // The test's own connections are open before the database refuses new ones.
    await Promise.all([sql.query('SELECT 1'), sql.query('SELECT 1')]);
    await sql.query(`INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 1)`, [
      TUE_0900,
    ]);
    await eventually('the booked count', async () => remainingAt(await list(t!.app, Q), TUE_0900) === 1);
    expect(await servedFromMemory()).toBe(true); // booked is now 2: full, not listed
    return t;
  }

  it('reads every listing from the database while it is down, and caches again once back', async () => {
    const app = (await start()).app;
    expect(remainingAt(await list(app, Q), TUE_0900)).toBe(1); // still the cached listing

    await cutListener();
    await sql.query(`UPDATE window_load SET booked = 0`); // announced to nobody
    await eventually(
      'the change made while down',
      async () => remainingAt(await list(app, Q), TUE_0900) === 2,
    );
    // Not a one-off refresh: every listing is read from the database while it is down.
    await quietly(sql, `UPDATE window_load SET booked = 1`);
    expect(remainingAt(await list(app, Q), TUE_0900)).toBe(1);
    await quietly(sql, `UPDATE window_load SET booked = 2`);
    expect(remainingAt(await list(app, Q), TUE_0900)).toBe(0);

    await allowConnections(true);
    await eventually('the listener back', async () => (await listenerPids()).length === 1, 10_000);
    await eventually('listings from memory again', servedFromMemory, 2_000);
    await sql.query(`UPDATE window_load SET booked = 0`);
    await eventually('a notified change', async () => remainingAt(await list(app, Q), TUE_0900) === 2);
  });

  it('does not serve, once back, a listing cached before a change it missed', async () => {
    const app = (await start()).app;
    const cached = await list(app, Q);
    expect(remainingAt(cached, TUE_0900)).toBe(1);

    await cutListener();
    await sql.query(`UPDATE window_load SET booked = 0`); // announced to nobody; nobody lists meanwhile
    await allowConnections(true);
    await eventually('the listener back', async () => (await listenerPids()).length === 1, 10_000);
    await eventually('the missed change', async () => remainingAt(await list(app, Q), TUE_0900) === 2, 2_000);
  });

  it('keeps /readyz green while it is down', async () => {
    const app = (await start()).app;
    await cutListener();
    expect((await app.inject('/readyz')).statusCode).toBe(200);
  });
});
