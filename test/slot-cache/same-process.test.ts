import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { booking, createAgent, deleteClosure, ops, postClosure } from '../support/api.js';
import { intakeFixture } from '../intake/support.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { SLOT_LISTENER_NAME } from '../../src/runtime.js';
import { eventually, list, quietly, remainingAt } from './support.js';

const f = intakeFixture();
// The clock stays on Monday 2026-11-23 08:00 unless a test moves it: Tuesday is far from notice.
const TUE_0900 = '2026-11-24T09:00:00+01:00';
const Q = 'domain=travail&days=3';
// A TTL no test can outlive: whatever changes a listing here was an invalidation.
const LONG = { SLOTS_CACHE_MS: '3600000' };

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

describe('GET /v1/slots from the process cache', () => {
  it('serves repeated listings from memory, byte for byte what the schema serializer writes', async () => {
    const t = await f.start('postgres', { env: LONG });
    await createAgent(t.app, ['travail']);
    const first = await list(t.app, Q);
    expect(first.slots.length).toBeGreaterThan(20);
    const again = await list(t.app, Q);
    expect(again.body).toBe(first.body);

    // The same listing without the cache goes through the route's response schema.
    const plain = await f.start('postgres', { env: { SLOTS_CACHE_MS: '0' } });
    const reference = await list(plain.app, Q);
    expect(first.body).toBe(reference.body);
    expect(first.contentType).toBe(reference.contentType);
    expect(first.contentType).toBe('application/json; charset=utf-8');
    for (const query of ['domain=logement', 'domain=travail&from=2026-11-30&days=1', 'domain=travail']) {
      expect((await list(t.app, query)).body, query).toBe((await list(plain.app, query)).body);
    }

    // A booked count written without any notification: only the uncached process sees it.
    await quietly(f.sql, `INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 1)`, [
      TUE_0900,
    ]);
    expect(remainingAt(await list(plain.app, Q), TUE_0900)).toBe(0);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);
    await quietly(f.sql, 'DELETE FROM window_load');
  });

  it('shows a booking and a cancel made in this process at once', async () => {
    const t = await f.start('postgres', { env: LONG });
    await createAgent(t.app, ['travail']);
    await createAgent(t.app, ['travail']);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(2);

    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: TUE_0900 }),
    });
    expect(res.statusCode).toBe(201);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);
    const second = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: TUE_0900 }),
    });
    expect(second.statusCode).toBe(201);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(0); // full: no longer listed

    const { reference, cancelToken } = res.json() as { reference: string; cancelToken: string };
    const cancelled = await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${reference}/cancel`,
      payload: { cancelToken },
    });
    expect(cancelled.statusCode).toBe(200);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);
  });

  it('drops the windows of a closure, and gives them back when it is deleted', async () => {
    const t = await f.start('postgres', { env: LONG });
    await createAgent(t.app, ['travail']);
    const onTuesday = async () =>
      (await list(t.app, Q)).slots.filter((s) => s.start.startsWith('2026-11-24')).map((s) => s.start);
    expect(await onTuesday()).toHaveLength(9); // Tuesday 08:30–13:00

    const part = await postClosure(t.app, {
      date: '2026-11-24',
      reason: 'Réunion',
      start: '09:00',
      end: '10:00',
    });
    expect(part.statusCode).toBe(201);
    expect(await onTuesday()).not.toContain(TUE_0900);
    expect(await onTuesday()).toHaveLength(7);

    const whole = await postClosure(t.app, { date: '2026-11-24', reason: 'Inventaire' });
    expect(whole.statusCode).toBe(201);
    expect(await onTuesday()).toEqual([]);

    for (const id of [part.json().id, whole.json().id] as string[]) {
      const del = await deleteClosure(t.app, id);
      expect(del.statusCode).toBe(204);
    }
    expect(await onTuesday()).toHaveLength(9);
  });

  it('follows the informateurs: creation, deactivation, change of domains', async () => {
    const t = await f.start('postgres', { env: LONG });
    const a = await createAgent(t.app, ['travail']);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);
    expect((await list(t.app, 'domain=logement&days=3')).slots).toEqual([]);

    const b = await createAgent(t.app, ['travail']);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(2);

    const off = await t.app.inject({
      method: 'PATCH',
      url: `/v1/agents/${a.id}`,
      headers: ops,
      payload: { active: false },
    });
    expect(off.statusCode).toBe(200);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);

    const moved = await t.app.inject({
      method: 'PATCH',
      url: `/v1/agents/${b.id}`,
      headers: ops,
      payload: { domains: ['logement'] },
    });
    expect(moved.statusCode).toBe(200);
    expect((await list(t.app, Q)).slots).toEqual([]);
    expect(remainingAt(await list(t.app, 'domain=logement&days=3'), TUE_0900)).toBe(1);
  });

  it('sees changes written by another connection, by their notification', async () => {
    const t = await f.start('postgres', { env: LONG });
    await createAgent(t.app, ['travail']);
    await createAgent(t.app, ['travail']);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(2);

    await f.sql.query(`INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 1)`, [
      TUE_0900,
    ]);
    await eventually('a booked count', async () => remainingAt(await list(t.app, Q), TUE_0900) === 1);

    await f.sql.query(
      `INSERT INTO closures (id, date, reason, created_at) VALUES (gen_random_uuid(), '2026-11-24', 'x', now())`,
    );
    await eventually('a closure', async () => remainingAt(await list(t.app, Q), TUE_0900) === 0);
    await f.sql.query('DELETE FROM closures');
    await eventually('a deleted closure', async () => remainingAt(await list(t.app, Q), TUE_0900) === 1);

    await f.sql.query(`UPDATE agents SET active = false`);
    await eventually('deactivated informateurs', async () => (await list(t.app, Q)).slots.length === 0);
  });

  it('drops the first window once it falls within the minimum notice, whatever the TTL', async () => {
    const t = await f.start('postgres', { env: LONG, now: '2026-11-23T08:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    const first = async () => (await list(t.app, 'domain=travail&days=1')).slots[0]?.start;
    expect(await first()).toBe('2026-11-23T08:30:00+01:00');
    t.clock.set(at('2026-11-23T08:14:59+01:00'));
    expect(await first()).toBe('2026-11-23T08:30:00+01:00');
    // 08:30 minus 15 minutes of notice: a booking of 08:30 is now refused, and so not offered.
    t.clock.set(at('2026-11-23T08:15:01+01:00'));
    expect(await first()).toBe('2026-11-23T09:00:00+01:00');
    t.clock.set(at('2026-11-23T08:45:00+01:00'));
    expect(await first()).toBe('2026-11-23T09:00:00+01:00'); // exactly 15 minutes ahead: still open
    t.clock.set(at('2026-11-23T08:45:01+01:00'));
    expect(await first()).toBe('2026-11-23T09:30:00+01:00');
  });

  it('takes one more day into the horizon at midnight', async () => {
    const t = await f.start('postgres', { env: LONG, now: '2026-11-23T23:59:00+01:00' });
    await createAgent(t.app, ['travail']);
    const lastDate = async (query: string) => (await list(t.app, query)).slots.at(-1)?.start.slice(0, 10);
    const queries = ['domain=travail', 'domain=travail&from=2026-11-24&days=30'];
    for (const q of queries) expect(await lastDate(q), q).toBe('2026-12-07');
    t.clock.set(at('2026-11-24T00:00:01+01:00'));
    for (const q of queries) expect(await lastDate(q), q).toBe('2026-12-08');
  });

  it('is off with SLOTS_CACHE_MS=0: no listening connection, every listing read from the database', async () => {
    const t = await f.start('postgres', { env: { SLOTS_CACHE_MS: '0' } });
    await createAgent(t.app, ['travail']);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(1);
    await quietly(f.sql, `INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 1)`, [
      TUE_0900,
    ]);
    expect(remainingAt(await list(t.app, Q), TUE_0900)).toBe(0);
    // The apps of earlier tests are closed; their listening sessions may take a moment to go.
    await eventually('no listening session', async () => {
      const { rows } = await f.sql.query(
        'SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [SLOT_LISTENER_NAME],
      );
      return rows.length === 0;
    });
  });
});

describe('SLOTS_CACHE_MS', () => {
  it('defaults to one second and accepts 0 to one hour', () => {
    expect(loadConfig({}).slotsCacheMs).toBe(1_000);
    expect(loadConfig({ SLOTS_CACHE_MS: '0' }).slotsCacheMs).toBe(0);
    expect(loadConfig({ SLOTS_CACHE_MS: '3600000' }).slotsCacheMs).toBe(3_600_000);
    for (const bad of ['-1', '1.5', 'soon', '3600001']) {
      expect(() => loadConfig({ SLOTS_CACHE_MS: bad }), bad).toThrow(ConfigError);
    }
  });
});
