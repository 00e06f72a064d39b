import { readFile } from 'node:fs/promises';
import { DateTime } from 'luxon';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_LIMITS, createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { bookSlot, booking, createAgent, ops, opsView } from './support/api.js';
import { outcome, pull } from './support/desk.js';

describe('retention', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', {
      env: { RATE_LIMIT_PER_IP_PER_MINUTE: '0', RETENTION_DAYS: '90' },
    });
    await createAgent(t.app, ['travail']);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('anonymises a callback RETENTION_DAYS after it ended, and not before', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ subject: 'licenciement pour faute grave' }),
    });
    const active = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-23T09:30:00+01:00' }),
    });
    const { reference, cancelToken } = created.json();
    await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${reference}/cancel`,
      payload: { cancelToken },
    });

    t.clock.advance({ days: 89 });
    expect(await t.rt.services.retention.run()).toBe(0);
    t.clock.advance({ days: 2 });
    expect(await t.rt.services.retention.run()).toBe(1);
    expect(await t.rt.services.retention.run()).toBe(0);

    const rows = await t.rt.db
      .selectFrom('callbacks')
      .select(['reference', 'phone', 'subject', 'status', 'anonymised_at'])
      .orderBy('reference')
      .execute();
    const gone = rows.find((r) => r.reference === reference)!;
    expect(gone).toMatchObject({ phone: null, subject: null, status: 'cancelled' });
    expect(gone.anonymised_at).toBeInstanceOf(Date);
    // An active callback keeps its number however old it is.
    expect(rows.find((r) => r.reference === active.json().reference)!.phone).toMatch(/^\+33/);
    const view = await t.app.inject({ url: `/v1/callbacks/${reference}`, headers: ops });
    expect(view.json().phone).toBe('••');
  });
});

describe('retention of what the informateur typed', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let agent: { id: string; token: string };
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { env: { ...NO_LIMITS, RETENTION_DAYS: '90' } });
    agent = await createAgent(t.app, ['travail']);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('erases the redirection with the note: both are free text typed during the call (and migration 0007 those kept before)', async () => {
    const ref = await bookSlot(t.app, 'travail', '2026-11-23T09:00:00+01:00');
    t.clock.set(DateTime.fromISO('2026-11-23T09:00:00+01:00', { setZone: true }));
    expect((await pull(t.app, agent.token))?.reference).toBe(ref);
    const res = await outcome(t.app, agent.token, ref, {
      outcome: 'redirected',
      redirectedTo: 'Me Martin, avocate de M. Dupont, 06 12 34 56 78',
      note: 'rappeler sa fille',
    });
    expect(res.statusCode, res.body).toBe(200);

    t.clock.advance({ days: 91 });
    expect(await t.rt.services.retention.run()).toBe(1);

    const row = await t.rt.db
      .selectFrom('callbacks')
      .select(['phone', 'redirected_to', 'outcome'])
      .where('reference', '=', ref)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ phone: null, redirected_to: null, outcome: 'redirected' });
    const events = JSON.stringify(
      await t.rt.db.selectFrom('callback_events').select('data').where('data', 'is not', null).execute(),
    );
    expect(events).not.toContain('rappeler sa fille');
    expect(events).not.toContain('Dupont');
    const view = await opsView(t.app, ref);
    expect(JSON.stringify(view)).not.toContain('Dupont');

    // Migration 0007 erases what callbacks anonymised before it kept: as this one was then.
    await sql`UPDATE callbacks SET redirected_to = 'Me Martin' WHERE anonymised_at IS NOT NULL`.execute(
      t.rt.db,
    );
    await sql`UPDATE callback_events SET data = data || '{"redirectedTo": "Me Martin"}' WHERE type = 'outcome'`.execute(
      t.rt.db,
    );
    const redirections = async () =>
      (
        await sql<{ n: number }>`
          SELECT (SELECT count(*) FROM callbacks WHERE redirected_to IS NOT NULL)
               + (SELECT count(*) FROM callback_events WHERE data ? 'redirectedTo') AS n`.execute(t.rt.db)
      ).rows[0]!.n;
    expect(await redirections()).toBe(2);
    const migration = await readFile(
      new URL('../migrations/0007_anonymise_redirections.sql', import.meta.url),
      'utf8',
    );
    await sql.raw(migration).execute(t.rt.db);
    expect(await redirections()).toBe(0);
  });
});
