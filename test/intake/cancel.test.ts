import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { booking, createAgent, setStatus } from '../support/api.js';
import { outcome, pull } from '../support/desk.js';
import {
  book,
  bookedIn,
  callbackRow,
  expectProblem,
  intakeFixture,
  postCallback,
  rowCounts,
} from './support.js';

const f = intakeFixture();
const MONDAY_0900 = '2026-11-23T09:00:00+01:00';

function cancel(app: FastifyInstance, reference: string, cancelToken: unknown) {
  return app.inject({ method: 'POST', url: `/v1/callbacks/${reference}/cancel`, payload: { cancelToken } });
}

describe('POST /v1/callbacks/{reference}/cancel', () => {
  it('cancels, is harmless to repeat, and frees the window exactly once', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']); // capacity 1
    const a = await book(t.app, { slotStart: MONDAY_0900 });
    expect(await bookedIn(f.sql, 'travail', MONDAY_0900)).toBe(1);
    const other = booking({ slotStart: MONDAY_0900 });
    expectProblem(await postCallback(t.app, other), 'SLOT_FULL');

    const first = await cancel(t.app, a.reference, a.cancelToken);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      reference: a.reference,
      status: 'cancelled',
      phone: expect.stringContaining('••'),
    });
    expect((await callbackRow(f.sql, a.reference))?.status).toBe('cancelled');
    expect(await bookedIn(f.sql, 'travail', MONDAY_0900)).toBe(0);

    const again = await cancel(t.app, a.reference, a.cancelToken);
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('cancelled');

    // The window is bookable again, once: the second cancel did not give back a second place.
    expect((await postCallback(t.app, other)).statusCode).toBe(201);
    expect(await bookedIn(f.sql, 'travail', MONDAY_0900)).toBe(1);
    expectProblem(await postCallback(t.app, booking({ slotStart: MONDAY_0900 })), 'SLOT_FULL');
    expect(await cancel(t.app, a.reference, a.cancelToken).then((r) => r.statusCode)).toBe(200);
    expect(await bookedIn(f.sql, 'travail', MONDAY_0900)).toBe(1);

    const view = await t.app.inject({
      url: `/v1/callbacks/${a.reference}`,
      headers: { 'x-cancel-token': a.cancelToken },
    });
    expect(view.json().status).toBe('cancelled');
    const { rows } = await f.sql.query<{ type: string }>(
      'SELECT e.type FROM callback_events e JOIN callbacks c ON c.id = e.callback_id WHERE c.reference = $1 ORDER BY e.id',
      [a.reference],
    );
    expect(rows.map((r) => r.type)).toEqual(['created', 'cancelled']);
  });

  it('shows the citizen the next attempt after a missed call, and still cancels then', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T08:00:00+01:00' });
    const agent = await createAgent(t.app, ['travail']);
    const a = await book(t.app, { slotStart: MONDAY_0900 });
    const citizen = async () =>
      (
        await t.app.inject({
          url: `/v1/callbacks/${a.reference}`,
          headers: { 'x-cancel-token': a.cancelToken },
        })
      ).json();
    expect((await citizen()).nextAttemptAt).toBeNull();
    t.clock.set(DateTime.fromISO(MONDAY_0900, { setZone: true }));
    expect((await pull(t.app, agent.token))?.reference).toBe(a.reference);
    const missed = await outcome(t.app, agent.token, a.reference, { outcome: 'no_answer' });
    expect(missed.statusCode, missed.body).toBe(200);
    const next = missed.json().nextAttemptAt as string;
    expect(next > MONDAY_0900).toBe(true);
    // The window shown is the one already past: the next attempt says when the phone rings again.
    expect(await citizen()).toMatchObject({
      status: 'scheduled',
      window: { start: MONDAY_0900 },
      nextAttemptAt: next,
    });
    const cancelled = await cancel(t.app, a.reference, a.cancelToken);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', nextAttemptAt: null });
  });

  it('lets the citizen book again for the same phone and domain once cancelled', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const first = booking();
    const created = (await postCallback(t.app, first)).json();
    expectProblem(
      await postCallback(t.app, { ...first, slotStart: '2026-11-23T10:00:00+01:00' }),
      'DUPLICATE_REQUEST',
    );
    expect((await cancel(t.app, created.reference, created.cancelToken)).statusCode).toBe(200);
    expect((await postCallback(t.app, { ...first, slotStart: '2026-11-23T10:00:00+01:00' })).statusCode).toBe(
      201,
    );
  });

  it('cancels a queued asap callback without touching any window', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await createAgent(t.app, ['travail']);
    await setStatus(t.app, agent.token, 'available');
    const a = await book(t.app, { mode: 'asap', slotStart: undefined });
    expect(a.status).toBe('queued');
    const before = await rowCounts(f.sql);
    const res = await cancel(t.app, a.reference, a.cancelToken);
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('cancelled');
    expect((await rowCounts(f.sql)).booked).toBe(before.booked);
  });

  it('answers 404 for a wrong or missing token and for an unknown reference, and changes nothing', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const a = await book(t.app);
    const b = await book(t.app, { slotStart: '2026-11-23T10:00:00+01:00' });
    const before = await rowCounts(f.sql);
    expectProblem(await cancel(t.app, a.reference, b.cancelToken), 'NOT_FOUND');
    expectProblem(await cancel(t.app, a.reference, 'x'), 'NOT_FOUND');
    expectProblem(await cancel(t.app, 'RAP-XXXXXX', a.cancelToken), 'NOT_FOUND');
    expectProblem(await cancel(t.app, 'nonsense', a.cancelToken), 'NOT_FOUND');
    expectProblem(await cancel(t.app, a.reference, ''), 'VALIDATION_ERROR');
    expectProblem(
      await t.app.inject({ method: 'POST', url: `/v1/callbacks/${a.reference}/cancel`, payload: {} }),
      'VALIDATION_ERROR',
    );
    expect(await rowCounts(f.sql)).toEqual(before);
    expect((await callbackRow(f.sql, a.reference))?.status).toBe('scheduled');
  });

  it.each([
    ['assigned', `status = 'assigned', assigned_agent_id = $2, assigned_at = $3, lease_expires_at = $3`],
    ['completed', `status = 'completed', outcome = 'reached', ended_at = $3, attempts = 1`],
    ['failed', `status = 'failed', outcome = 'unreachable', ended_at = $3, attempts = 3`],
  ])('refuses with 409 INVALID_TRANSITION once %s', async (status, set) => {
    const t = await f.start('postgres');
    const agent = await createAgent(t.app, ['travail']);
    const a = await book(t.app, { slotStart: MONDAY_0900 });
    const { rowCount } = await f.sql.query(
      `UPDATE callbacks SET ${set} WHERE reference = $1 ${set.includes('$2') ? '' : 'AND $2::uuid IS NOT NULL'}`,
      [a.reference, agent.id, new Date('2026-11-23T08:00:00Z')],
    );
    expect(rowCount).toBe(1);
    const before = await rowCounts(f.sql);
    const res = await cancel(t.app, a.reference, a.cancelToken);
    expectProblem(res, 'INVALID_TRANSITION');
    expect((await callbackRow(f.sql, a.reference))?.status).toBe(status);
    expect(await rowCounts(f.sql)).toEqual(before);
    const view = await t.app.inject({
      url: `/v1/callbacks/${a.reference}`,
      headers: { 'x-cancel-token': a.cancelToken },
    });
    expect(view.json().status).toBe(status);
  });
});
