import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { booking, createAgent, ops } from './support/api.js';

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
