import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import { addClosure, book, expectProblem, intakeFixture, postCallback, windowTruth } from './support.js';

/**
 * Intake remembers a date's closures and a domain's staffing for a few seconds, and rappel_book
 * re-checks them under its locks (migrations/0004). These changes are written behind the API's
 * back (plain SQL: no local cache drop, no notification it could rely on), right after a booking
 * made the process remember the old state: the next booking must still follow the database.
 */
const f = intakeFixture();
const DAY = '2026-11-23';
const W1 = `${DAY}T10:00:00+01:00`;
const W2 = `${DAY}T11:00:00+01:00`;

describe('bookings follow closures and staffing changed since intake last read them', () => {
  it('a closure added since is seen: CENTRE_CLOSED, nothing written', async () => {
    const t = await f.start('redis');
    await createAgent(t.app, ['travail']);
    await book(t.app, { slotStart: W1 });
    await addClosure(f.sql, DAY);
    expectProblem(await postCallback(t.app, booking({ slotStart: W2 })), 'CENTRE_CLOSED');
    expect(await windowTruth(f.sql, 'travail', W2)).toEqual({ callbacks: 0, booked: 0 });
  });

  it('a closure removed since is not held against the next booking', async () => {
    const t = await f.start('redis');
    await createAgent(t.app, ['travail']);
    await addClosure(f.sql, DAY);
    expectProblem(await postCallback(t.app, booking({ slotStart: W1 })), 'CENTRE_CLOSED');
    await f.sql.query('DELETE FROM closures');
    await book(t.app, { slotStart: W1 });
  });

  it('an informateur activated since adds places at once', async () => {
    const t = await f.start('redis', { env: { CALLBACKS_PER_AGENT_PER_SLOT: '1' } });
    await createAgent(t.app, ['travail']);
    await book(t.app, { slotStart: W1 }); // capacity 1, now full
    await f.sql.query(
      `INSERT INTO agents (id, display_name, domains, status, token_hash, created_at, updated_at)
       VALUES (gen_random_uuid(), 'B', '{travail}', 'offline', '\\xbb', now(), now())`,
    );
    await book(t.app, { slotStart: W1 });
    expect(await windowTruth(f.sql, 'travail', W1)).toEqual({ callbacks: 2, booked: 2 });
  });

  it('an informateur deactivated since takes places away at once', async () => {
    const t = await f.start('redis', { env: { CALLBACKS_PER_AGENT_PER_SLOT: '1' } });
    await createAgent(t.app, ['travail']);
    await createAgent(t.app, ['travail']);
    await book(t.app, { slotStart: W1 }); // capacity 2
    await f.sql.query(`UPDATE agents SET active = false WHERE id = (SELECT min(id::text)::uuid FROM agents)`);
    expectProblem(await postCallback(t.app, booking({ slotStart: W1 })), 'SLOT_FULL');
    expect(await windowTruth(f.sql, 'travail', W1)).toEqual({ callbacks: 1, booked: 1 });
  });

  it("a key's first answer is replayed even once the same request would be refused", async () => {
    const t = await f.start('redis');
    await createAgent(t.app, ['travail']);
    const body = booking({ slotStart: W1 });
    const key = { 'idempotency-key': 'recheck-replay-0001' };
    const first = await postCallback(t.app, body, key);
    expect(first.statusCode, first.body).toBe(201);
    await addClosure(f.sql, DAY);
    // Another booking of the day is refused: the process now knows of the closure.
    expectProblem(await postCallback(t.app, booking({ slotStart: W2 })), 'CENTRE_CLOSED');
    const again = await postCallback(t.app, body, key);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    const { rows } = await f.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM callbacks');
    expect(rows[0]!.n).toBe(1);
  });
});
