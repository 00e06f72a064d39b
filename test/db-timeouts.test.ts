import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY, migrate } from '../src/db/migrator.js';
import { createPool } from '../src/db/pool.js';
import { CALENDAR_LOCK } from '../src/repositories/closures.js';
import { DateTime } from 'luxon';
import { booking, createAgent, ops } from './support/api.js';
import { pull } from './support/desk.js';
import { NO_LIMITS, createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';

/**
 * A statement PostgreSQL does not finish in time (here: a booking waiting for the calendar lock
 * another session holds, as a long closure change would) is cancelled by PostgreSQL itself
 * (DB_STATEMENT_TIMEOUT_MS) and rolled back: 503, nothing written. Before, only pg's client-side
 * read timeout gave up (a 500), and the booking committed behind the answer once it had the lock.
 */
describe('statement timeout', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let other: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', {
      now: '2026-11-23T08:00:00+01:00',
      env: { ...NO_LIMITS, DB_STATEMENT_TIMEOUT_MS: '500' },
    });
    await createAgent(t.app, ['travail']);
    other = new pg.Client({ connectionString: db.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await t?.close();
    await db?.drop();
  });

  const count = async () =>
    Number(
      (
        await t.rt.db
          .selectFrom('callbacks')
          .select((e) => e.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('answers 503 with nothing written when a booking waits past it, and the same request books once the lock is free', async () => {
    const payload = booking({ slotStart: '2026-11-23T09:00:00+01:00' });
    const headers = { 'idempotency-key': 'timeout-then-retry' };
    await other.query('SELECT pg_advisory_lock($1)', [CALENDAR_LOCK]);
    let res;
    try {
      res = await t.app.inject({ method: 'POST', url: '/v1/callbacks', payload, headers });
    } finally {
      await other.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
    }
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    expect(res.headers['retry-after']).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe(0);

    const again = await t.app.inject({ method: 'POST', url: '/v1/callbacks', payload, headers });
    expect(again.statusCode, again.body).toBe(201);
    expect(await count()).toBe(1);
  });

  it('rolls a deactivation back whole when handing the desk back times out: never deactivated with the callback left on the desk', async () => {
    const agent = await createAgent(t.app, ['justice']);
    const booked = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'justice', slotStart: '2026-11-23T09:30:00+01:00' }),
    });
    expect(booked.statusCode, booked.body).toBe(201);
    t.clock.set(DateTime.fromISO('2026-11-23T09:30:00+01:00', { setZone: true }));
    const reference = (await pull(t.app, agent.token))?.reference;
    expect(reference).toBe(booked.json().reference);

    const deactivate = () =>
      t.app.inject({
        method: 'PATCH',
        url: `/v1/agents/${agent.id}`,
        headers: ops,
        payload: { active: false },
      });
    await other.query('BEGIN');
    let res;
    try {
      await other.query('SELECT 1 FROM callbacks WHERE reference = $1 FOR UPDATE', [reference]);
      res = await deactivate();
    } finally {
      await other.query('ROLLBACK');
    }
    expect(res.statusCode, res.body).toBe(503);
    const state = async () => ({
      active: (await t.app.inject({ url: '/v1/agents', headers: ops }))
        .json()
        .find((a: { id: string }) => a.id === agent.id).active,
      status: (await t.app.inject({ url: `/v1/callbacks/${reference}`, headers: ops })).json().status,
    });
    expect(await state()).toEqual({ active: true, status: 'assigned' });

    expect((await deactivate()).statusCode).toBe(200);
    expect(await state()).toEqual({ active: false, status: 'queued' });
  });

  it('does not bind migrations: they wait for another process migrating past both timeouts, and the pool stays bound', async () => {
    const pool = createPool(db.url, pino({ level: 'silent' }), { max: 1, statementTimeoutMs: 200 });
    try {
      await other.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const migrating = migrate(pool);
      // Past the statement timeout (200 ms) and the client's read timeout (200 ms + 5 s).
      await new Promise((r) => setTimeout(r, 5_500));
      await other.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      await expect(migrating).resolves.toEqual({ applied: [] });
      expect((await pool.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]).toEqual({
        statement_timeout: '200ms',
      });
    } finally {
      await pool.end();
    }
  }, 20_000);
});
