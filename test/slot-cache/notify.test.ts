import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/runtime.js';
import { SLOTS_CHANNEL } from '../../src/services/slot-cache.js';
import { createKysely } from '../../src/db/kysely.js';
import { applyOutcome } from '../../src/repositories/outcome.js';

/** What migrations/0002_slot_change_notify.sql (and 0004's deferral) announces, seen from a LISTEN of the test's own. */
describe('slot change notifications (migration 0002)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let listener: pg.Client;
  let sql: pg.Client;
  let received: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    listener = new pg.Client({ connectionString: db.url });
    sql = new pg.Client({ connectionString: db.url });
    await Promise.all([listener.connect(), sql.connect()]);
    listener.on('notification', (m) => {
      if (m.channel === SLOTS_CHANNEL) received.push(m.payload ?? '');
    });
    await listener.query(`LISTEN ${SLOTS_CHANNEL}`);
  });
  afterAll(async () => {
    await listener?.end();
    await sql?.end();
    await db?.drop();
  });
  beforeEach(() => {
    received = [];
  });

  /** Runs `statements` in one transaction and returns what was announced at its commit. */
  async function announced(statements: string[], commit = true): Promise<string[]> {
    await sql.query('BEGIN');
    for (const s of statements) await sql.query(s);
    // A marker after the transaction: every notification of the transaction arrives before it.
    await sql.query(commit ? 'COMMIT' : 'ROLLBACK');
    await sql.query(`SELECT pg_notify('${SLOTS_CHANNEL}', 'marker')`);
    const deadline = Date.now() + 2_000;
    while (!received.includes('marker')) {
      if (Date.now() > deadline) throw new Error('marker notification not received');
      await new Promise((r) => setTimeout(r, 5));
    }
    const got = received.filter((p) => p !== 'marker');
    received = [];
    return got.sort(); // rows are visited in no promised order
  }

  const agent = (id: number, domains: string, active = true) =>
    `INSERT INTO agents (id, display_name, domains, active, status, token_hash, created_at, updated_at)
     VALUES ('00000000-0000-0000-0000-00000000000${id}', 'A', '{${domains}}', ${active}, 'offline',
             '\\x0${id}', now(), now())`;

  it('window_load: the domain, once per transaction, at commit only', async () => {
    expect(
      await announced([
        `INSERT INTO window_load VALUES ('travail', '2026-11-24T09:00+01', 1)`,
        `UPDATE window_load SET booked = booked + 1 WHERE domain = 'travail'`,
        `INSERT INTO window_load VALUES ('travail', '2026-11-24T09:30+01', 1)`,
      ]),
    ).toEqual(['travail']);
    expect(await announced([`UPDATE window_load SET booked = booked - 1 WHERE domain = 'travail'`])).toEqual([
      'travail',
    ]);
    expect(
      await announced([`INSERT INTO window_load VALUES ('logement', '2026-11-24T09:00+01', 1)`], false),
    ).toEqual([]);
    // An upsert refused by its guard (full window) changes nothing, and says nothing.
    expect(
      await announced([
        `INSERT INTO window_load AS w VALUES ('travail', '2026-11-24T09:00+01', 1)
         ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + 1 WHERE w.booked < 1`,
      ]),
    ).toEqual([]);
    expect(await announced([`DELETE FROM window_load WHERE domain = 'travail'`])).toEqual(['travail']);
    expect(await announced(['TRUNCATE window_load'])).toEqual(['*']);
  });

  it("window_load: nothing when the transaction deferred its announcement (rappel_book's bookings)", async () => {
    expect(
      await announced([
        `SELECT set_config('rappel.slots_notify', 'deferred', true)`,
        `INSERT INTO window_load VALUES ('travail', '2026-11-24T10:00+01', 1)`,
      ]),
    ).toEqual([]);
    // Transaction-local: the next transaction on the same connection announces again.
    expect(
      await announced([
        `UPDATE window_load SET booked = booked + 1 WHERE window_start = '2026-11-24T10:00+01'`,
      ]),
    ).toEqual(['travail']);
  });

  it("an outcome leaves its window's places as they are, and announces nothing", async () => {
    const kysely = createKysely(new pg.Pool({ connectionString: db.url, max: 1 }));
    try {
      const agentId = '00000000-0000-0000-0000-0000000000a1';
      await sql.query(
        `INSERT INTO agents (id, display_name, domains, active, status, token_hash, created_at, updated_at)
         VALUES ($1, 'A', '{logement}', true, 'available', '\\xa1', now(), now())`,
        [agentId],
      );
      await sql.query(`INSERT INTO window_load VALUES ('logement', '2026-11-24T09:00+01', 2)`);
      await sql.query(
        `INSERT INTO callbacks (id, reference, domain, mode, status, phone, window_start, window_end, due_at,
           assigned_agent_id, assigned_at, cancel_token_hash, created_at, updated_at)
         VALUES (gen_random_uuid(), 'RAP-OUT1', 'logement', 'slot', 'assigned', '+33612345678',
           '2026-11-24T09:00+01', '2026-11-24T09:30+01', '2026-11-24T09:00+01', $1, now(), '\\x01', now(), now())`,
        [agentId],
      );
      received = [];
      const r = await applyOutcome(
        kysely,
        { agentId },
        'RAP-OUT1',
        { status: 'completed', outcome: 'reached', redirectedTo: null, dueAt: null },
        { reported: 'reached', extra: {} },
        new Date(),
      );
      expect(r.updated?.status).toBe('completed');
      expect(await announced([])).toEqual([]);
      const load = await sql.query<{ booked: number }>(
        `SELECT booked FROM window_load WHERE domain = 'logement' AND window_start = '2026-11-24T09:00+01'`,
      );
      expect(load.rows[0]!.booked).toBe(2); // the window has started: nobody can book it any more
    } finally {
      await kysely.destroy();
    }
  });

  it('closures: every domain', async () => {
    expect(
      await announced([
        `INSERT INTO closures (id, date, reason, created_at) VALUES (gen_random_uuid(), '2026-11-24', 'x', now())`,
      ]),
    ).toEqual(['*']);
    expect(await announced([`DELETE FROM closures`])).toEqual(['*']);
  });

  it('agents: the domains of active informateurs when activation or domains change, not their status', async () => {
    expect(await announced([agent(1, 'travail,logement')])).toEqual(['logement', 'travail']);
    expect(await announced([agent(2, 'justice', false)])).toEqual([]);
    expect(
      await announced([
        `UPDATE agents SET status = 'available', available_since = now(), updated_at = now()`,
        `UPDATE agents SET display_name = 'B'`,
      ]),
    ).toEqual([]);
    expect(
      await announced([`UPDATE agents SET domains = '{interieur}' WHERE display_name = 'B' AND active`]),
    ).toEqual(['interieur', 'logement', 'travail']);
    expect(await announced([`UPDATE agents SET active = NOT active`])).toEqual(['interieur', 'justice']);
    expect(await announced([`DELETE FROM agents WHERE active`])).toEqual(['justice']);
    expect(await announced([`DELETE FROM agents`])).toEqual([]);
  });
});
