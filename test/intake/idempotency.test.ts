import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import { BACKENDS } from '../support/runtime.js';
import { expectProblem, intakeFixture, postCallback, rowCounts } from './support.js';

const f = intakeFixture();
const WEDNESDAY_0900 = '2026-11-25T09:00:00+01:00';

/** Waits (bounded) until some backend of the test database waits on a lock. */
async function someoneWaitsOnALock() {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await f.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND a.datname = current_database()`,
    );
    if (rows[0]!.n > 0) return;
    if (Date.now() > deadline) throw new Error('no request ever waited on the lock');
    await new Promise((r) => setImmediate(r));
  }
}

describe.each(BACKENDS)('Idempotency-Key on the %s queue backend', (backend) => {
  it('replays the first 201 for the same key and body, writing nothing new', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking();
    const first = await postCallback(t.app, body, { 'idempotency-key': 'k-1' });
    expect(first.statusCode).toBe(201);
    const after = await rowCounts(f.sql);
    expect(after).toMatchObject({
      callbacks: 1,
      callback_events: 1,
      outbox: 1,
      idempotency_keys: 1,
      booked: 1,
    });

    // Same body with its members in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    for (const again of [body, reordered]) {
      const res = await postCallback(t.app, again, { 'idempotency-key': 'k-1' });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual(first.json());
    }
    expect(await rowCounts(f.sql)).toEqual(after);
    // The replayed cancel token is the real one.
    const { reference, cancelToken } = first.json();
    const view = await t.app.inject({
      url: `/v1/callbacks/${reference}`,
      headers: { 'x-cancel-token': cancelToken },
    });
    expect(view.statusCode).toBe(200);
  });

  it('refuses the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing written', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking();
    expect((await postCallback(t.app, body, { 'idempotency-key': 'k-2' })).statusCode).toBe(201);
    const before = await rowCounts(f.sql);
    for (const other of [
      { ...body, subject: 'autre chose' },
      { ...body, slotStart: '2026-11-23T10:00:00+01:00' },
      booking(),
    ]) {
      expectProblem(await postCallback(t.app, other, { 'idempotency-key': 'k-2' }), 'IDEMPOTENCY_KEY_REUSED');
    }
    expect(await rowCounts(f.sql)).toEqual(before);
    // Keys are not shared between different strings.
    expect(
      (await postCallback(t.app, booking({ slotStart: WEDNESDAY_0900 }), { 'idempotency-key': 'K-2' }))
        .statusCode,
    ).toBe(201);
  });

  it('does not keep refusals: the same key and body succeed once the refusal is gone', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const blocker = (await postCallback(t.app, booking({ slotStart: WEDNESDAY_0900 }))).json();
    const body = booking({ slotStart: WEDNESDAY_0900 });
    expectProblem(await postCallback(t.app, body, { 'idempotency-key': 'k-3' }), 'SLOT_FULL');
    await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${blocker.reference}/cancel`,
      payload: { cancelToken: blocker.cancelToken },
    });
    expect((await postCallback(t.app, body, { 'idempotency-key': 'k-3' })).statusCode).toBe(201);
  });

  it('accepts keys of 1 to 255 characters only', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail', 'logement']);
    for (const key of ['', 'x'.repeat(256), 'clé-accentuée', 'with space']) {
      const before = await rowCounts(f.sql);
      expectProblem(await postCallback(t.app, booking(), { 'idempotency-key': key }), 'VALIDATION_ERROR');
      expect(await rowCounts(f.sql)).toEqual(before);
    }
    expect((await postCallback(t.app, booking(), { 'idempotency-key': 'x'.repeat(255) })).statusCode).toBe(
      201,
    );
    expect(
      (await postCallback(t.app, booking({ domain: 'logement' }), { 'idempotency-key': 'x' })).statusCode,
    ).toBe(201);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE while the first request with the key is still running', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking({ slotStart: WEDNESDAY_0900 });
    // Hold the window's load row: the first booking will wait for it, inside its transaction.
    const holder = await f.sql.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 0)`, [
        WEDNESDAY_0900,
      ]);
      const running = postCallback(t.app, body, { 'idempotency-key': 'k-busy' });
      await someoneWaitsOnALock();
      const before = await rowCounts(f.sql);
      const busy = await postCallback(t.app, body, { 'idempotency-key': 'k-busy' });
      expectProblem(busy, 'IDEMPOTENCY_KEY_IN_USE');
      expect(busy.headers['retry-after']).toBe('1');
      expect(await rowCounts(f.sql)).toEqual(before);
      await holder.query('COMMIT');
      const first = await running;
      expect(first.statusCode, first.body).toBe(201);
      const replay = await postCallback(t.app, body, { 'idempotency-key': 'k-busy' });
      expect(replay.statusCode).toBe(201);
      expect(replay.json()).toEqual(first.json());
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });

  it('never makes two callbacks of concurrent requests with one key', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking();
    const answers = await Promise.all(
      Array.from({ length: 25 }, () => postCallback(t.app, body, { 'idempotency-key': 'k-race' })),
    );
    const created = answers.filter((r) => r.statusCode === 201);
    const inUse = answers.filter((r) => r.statusCode === 409);
    expect(created.length + inUse.length).toBe(answers.length);
    for (const r of inUse) expectProblem(r, 'IDEMPOTENCY_KEY_IN_USE');
    expect(new Set(created.map((r) => r.body)).size).toBe(1);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(await rowCounts(f.sql)).toMatchObject({ callbacks: 1, idempotency_keys: 1, booked: 1 });
  });

  it('forgets a key after 24 hours: no replay any more', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking({ slotStart: WEDNESDAY_0900 });
    const first = (await postCallback(t.app, body, { 'idempotency-key': 'k-old' })).json();
    await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${first.reference}/cancel`,
      payload: { cancelToken: first.cancelToken },
    });
    t.clock.advance({ hours: 23, minutes: 59 });
    const replay = await postCallback(t.app, body, { 'idempotency-key': 'k-old' });
    expect(replay.json()).toEqual(first);
    t.clock.advance({ hours: 1, minutes: 1 }); // 25 h after the first request
    const fresh = await postCallback(t.app, body, { 'idempotency-key': 'k-old' });
    expect(fresh.statusCode, fresh.body).toBe(201);
    expect(fresh.json().id).not.toBe(first.id);
    expect(fresh.json().cancelToken).not.toBe(first.cancelToken);
    expect((await rowCounts(f.sql)).callbacks).toBe(2);
    // From now on the key replays the new answer, and another body is a reuse again.
    expect((await postCallback(t.app, body, { 'idempotency-key': 'k-old' })).json()).toEqual(fresh.json());
    expectProblem(
      await postCallback(t.app, booking({ slotStart: WEDNESDAY_0900 }), { 'idempotency-key': 'k-old' }),
      'IDEMPOTENCY_KEY_REUSED',
    );
  });

  it('keeps neither the key nor the cancel token in clear, and the replayed token still cancels', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const key = 'k-sealed-9f2c';
    const body = booking();
    const first = (await postCallback(t.app, body, { 'idempotency-key': key })).json();
    const { rows } = await f.sql.query<{ key: string; answer: string }>(
      'SELECT key, response_body::text AS answer FROM idempotency_keys',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key).not.toContain(key);
    expect(rows[0]!.answer).toContain(first.reference);
    expect(rows[0]!.answer).not.toContain(first.cancelToken);
    const replay = (await postCallback(t.app, body, { 'idempotency-key': key })).json();
    expect(replay).toEqual(first);
    const cancel = await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${first.reference}/cancel`,
      payload: { cancelToken: replay.cancelToken },
    });
    expect(cancel.statusCode, cancel.body).toBe(200);
    // Another key cannot open it: the same body under another key is a new request.
    const other = await postCallback(t.app, body, { 'idempotency-key': 'k-sealed-other' });
    expect(other.statusCode, other.body).toBe(201);
    expect(other.json().reference).not.toBe(first.reference);
  });

  it('keeps no plain hash of the body (the phone could be tried against it); a row hashed so before still replays', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking();
    const first = (await postCallback(t.app, body, { 'idempotency-key': 'k-hash' })).json();
    const canonical = JSON.stringify(
      Object.fromEntries(Object.entries(body).sort(([a], [b]) => a.localeCompare(b))),
    );
    const plain = createHash('sha256').update(canonical, 'utf8').digest();
    const stored = async () =>
      (await f.sql.query<{ h: Buffer }>('SELECT request_hash AS h FROM idempotency_keys')).rows[0]!.h;
    expect((await stored()).equals(plain)).toBe(false);
    // The row as the service wrote it before: the body's plain SHA-256.
    await f.sql.query('UPDATE idempotency_keys SET request_hash = $1', [plain]);
    const replay = await postCallback(t.app, body, { 'idempotency-key': 'k-hash' });
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.json()).toEqual(first);
    expectProblem(
      await postCallback(t.app, { ...body, subject: 'autre chose' }, { 'idempotency-key': 'k-hash' }),
      'IDEMPOTENCY_KEY_REUSED',
    );
  });

  it('replays a key stored in clear before migration 0005, once that migration has converted it', async () => {
    const t = await f.start(backend);
    await createAgent(t.app, ['travail']);
    const body = booking();
    const first = (await postCallback(t.app, body, { 'idempotency-key': 'k-legacy' })).json();
    // The row as the service wrote it before 0005: key and cancel token in clear.
    await f.sql.query(`UPDATE idempotency_keys SET key = 'k-legacy', response_body = $1::jsonb`, [
      JSON.stringify(first),
    ]);
    const migration = await readFile(
      new URL('../../migrations/0005_idempotency_key_hashed.sql', import.meta.url),
      'utf8',
    );
    await f.sql.query(migration);
    const replay = await postCallback(t.app, body, { 'idempotency-key': 'k-legacy' });
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.json()).toEqual(first);
    expect((await rowCounts(f.sql)).callbacks).toBe(1);
  });
});
