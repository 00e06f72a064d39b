import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { booking, createAgent, opsView, postClosure, setStatus } from '../support/api.js';
import { AVERAGE_CALL_MINUTES } from '../../src/domain/asap.js';
import {
  addClosure,
  callbackRow,
  expectNextSlots,
  expectProblem,
  intakeFixture,
  paris,
  postCallback,
  rowCounts,
} from './support.js';

const f = intakeFixture();

const asap = (overrides: Record<string, unknown> = {}) =>
  booking({ mode: 'asap', slotStart: undefined, ...overrides });

async function availableAgent(app: FastifyInstance, domains = ['travail']) {
  const agent = await createAgent(app, domains);
  await setStatus(app, agent.token, 'available');
  return agent;
}

async function refusedAsap(app: FastifyInstance, body = asap()) {
  const before = await rowCounts(f.sql);
  const problem = expectProblem(await postCallback(app, body), 'ASAP_UNAVAILABLE');
  expect(await rowCounts(f.sql)).toEqual(before);
  return problem;
}

describe('asap requests', () => {
  it('are accepted as queued, window [now, now + 45 min), claimable at once', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app);
    const res = await postCallback(t.app, asap());
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({
      status: 'queued',
      mode: 'asap',
      domain: 'travail',
      window: { start: '2026-11-23T10:00:00+01:00', end: '2026-11-23T10:45:00+01:00' },
    });
    const row = await callbackRow(f.sql, created.reference);
    expect(row).toMatchObject({ status: 'queued', mode: 'asap' });
    expect(row?.due_at.toISOString()).toBe('2026-11-23T09:00:00.000Z');
    expect(row?.queued_at?.toISOString()).toBe('2026-11-23T09:00:00.000Z');
    // No window capacity is taken by an asap request.
    expect((await rowCounts(f.sql)).booked).toBe(0);
  });

  it('show their window in whole seconds when accepted at a clock reading with milliseconds', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00.250+01:00' });
    await availableAgent(t.app);
    const res = await postCallback(t.app, asap());
    expect(res.statusCode, res.body).toBe(201);
    const window = { start: '2026-11-23T10:00:00+01:00', end: '2026-11-23T10:45:00+01:00' };
    expect(res.json().window).toEqual(window);
    const seen = await opsView(t.app, res.json().reference);
    expect(seen.window).toEqual(window);
    expect(seen.createdAt).toBe('2026-11-23T10:00:00+01:00');
    expect(seen.history.length).toBeGreaterThan(0);
    for (const entry of seen.history) expect(entry.at).toBe('2026-11-23T10:00:00+01:00');
    // The end kept as shown: a closure from 10:45 meets no part of this promise. The start, when
    // it became due, stays the instant of acceptance (dispatch latency is counted from it).
    const row = await callbackRow(f.sql, res.json().reference);
    expect(row?.window_end?.toISOString()).toBe('2026-11-23T09:45:00.000Z');
    expect(row?.due_at?.toISOString()).toBe('2026-11-23T09:00:00.250Z');
  });

  it('are refused when the centre is closed: Saturday, or Tuesday afternoon', async () => {
    const t = await f.start('postgres', { now: '2026-11-28T10:00:00+01:00' });
    await availableAgent(t.app);
    await expectNextSlots(t.app, await refusedAsap(t.app));
    t.clock.set(paris('2026-11-24T14:00:00+01:00'));
    await expectNextSlots(t.app, await refusedAsap(t.app));
    // Before opening and at closing time exactly.
    t.clock.set(paris('2026-11-23T08:29:59+01:00'));
    await refusedAsap(t.app);
    t.clock.set(paris('2026-11-24T13:00:00+01:00'));
    await refusedAsap(t.app);
    t.clock.set(paris('2026-11-24T12:00:00+01:00'));
    expect((await postCallback(t.app, asap())).statusCode).toBe(201);
  });

  it('are refused when nobody of the domain is available, accepted once someone is', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await createAgent(t.app, ['travail']); // created offline
    await availableAgent(t.app, ['logement']); // another domain does not count
    await expectNextSlots(t.app, await refusedAsap(t.app));
    await setStatus(t.app, agent.token, 'paused');
    await refusedAsap(t.app);
    await setStatus(t.app, agent.token, 'available');
    expect((await postCallback(t.app, asap())).statusCode).toBe(201);
    await setStatus(t.app, agent.token, 'offline');
    await refusedAsap(t.app);
  });

  it('keep the 45-minute promise: with 1 available, 4 waiting is 40 min (accepted), 5 is 50 (refused)', async () => {
    expect(AVERAGE_CALL_MINUTES).toBe(10);
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app);
    for (let waiting = 0; waiting < 5; waiting += 1) {
      const res = await postCallback(t.app, asap());
      expect(res.statusCode, `with ${waiting} waiting`).toBe(201);
    }
    await refusedAsap(t.app);
    // Slot bookings are not waiting now: they do not count.
    expect((await postCallback(t.app, booking({ slotStart: '2026-11-23T11:00:00+01:00' }))).statusCode).toBe(
      201,
    );
    await refusedAsap(t.app);
    // A second available informateur halves the estimate: 5 waiting / 2 → 20 min.
    await availableAgent(t.app);
    expect((await postCallback(t.app, asap())).statusCode).toBe(201);
    // Another domain's load is its own.
    await availableAgent(t.app, ['justice']);
    expect((await postCallback(t.app, asap({ domain: 'justice' }))).statusCode).toBe(201);
  });

  it('count an informateur of several domains once across them, not in full in each', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app, ['travail', 'logement']);
    // One informateur for both: as with one domain, 5 callbacks (the fifth at 40 min) and no
    // more, whichever domains they come from. Counted in full by each domain, it took 10.
    const accepted: string[] = [];
    for (const domain of ['travail', 'logement', 'travail', 'logement', 'travail', 'logement', 'travail']) {
      const res = await postCallback(t.app, asap({ domain }));
      if (res.statusCode === 201) accepted.push(domain);
      else expect(res.json()).toMatchObject({ code: 'ASAP_UNAVAILABLE', reason: 'promise_exceeded' });
    }
    expect(accepted).toEqual(['travail', 'logement', 'travail', 'logement', 'travail']);
    // A second informateur, of logement only, takes a share of the pool's load.
    await availableAgent(t.app, ['logement']);
    expect((await postCallback(t.app, asap({ domain: 'logement' }))).statusCode).toBe(201);
  });

  it('give an informateur of several domains, whose other domains wait for nothing, wholly to the one that asks', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app, ['travail', 'logement', 'justice', 'interieur']);
    for (let waiting = 0; waiting < 5; waiting += 1) {
      const res = await postCallback(t.app, asap());
      expect(res.statusCode, `with ${waiting} waiting`).toBe(201);
    }
    await refusedAsap(t.app);
  });

  it('count callbacks on a desk (assigned) as waiting, and no longer count cancelled ones', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await availableAgent(t.app);
    const created: { reference: string; cancelToken: string }[] = [];
    for (let i = 0; i < 5; i += 1) created.push((await postCallback(t.app, asap())).json());
    await f.sql.query(
      `UPDATE callbacks SET status = 'assigned', assigned_agent_id = $2, assigned_at = $3 WHERE reference = $1`,
      [created[0]!.reference, agent.id, new Date('2026-11-23T09:00:00Z')],
    );
    await refusedAsap(t.app);
    const c = created[1]!;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${c.reference}/cancel`,
      payload: { cancelToken: c.cancelToken },
    });
    expect(res.statusCode).toBe(200);
    expect((await postCallback(t.app, asap())).statusCode).toBe(201);
  });

  it('are refused when closing comes before the estimated call (Tuesday 12:50 with load)', async () => {
    const t = await f.start('postgres', { now: '2026-11-24T12:00:00+01:00' });
    await availableAgent(t.app);
    expect((await postCallback(t.app, asap())).statusCode).toBe(201);
    t.clock.set(paris('2026-11-24T12:50:00+01:00'));
    // 1 waiting → estimated 13:00, which is closing time: refused although within 45 minutes.
    await expectNextSlots(t.app, await refusedAsap(t.app));
    t.clock.set(paris('2026-11-24T12:49:59+01:00'));
    const res = await postCallback(t.app, asap());
    expect(res.statusCode, res.body).toBe(201);
    // The window is cut at closing time.
    expect(res.json().window).toEqual({
      start: '2026-11-24T12:49:59+01:00',
      end: '2026-11-24T13:00:00+01:00',
    });
  });

  it('with no load near closing get a window cut at closing time', async () => {
    const t = await f.start('postgres', { now: '2026-11-24T12:50:00+01:00' });
    await availableAgent(t.app);
    const res = await postCallback(t.app, asap());
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      status: 'queued',
      window: { start: '2026-11-24T12:50:00+01:00', end: '2026-11-24T13:00:00+01:00' },
    });
  });

  it('treat a part-day closure as closing time, and refuse inside it', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app);
    await addClosure(f.sql, '2026-11-23', { start: '10:30', end: '11:00' });
    const res = await postCallback(t.app, asap());
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().window).toEqual({
      start: '2026-11-23T10:00:00+01:00',
      end: '2026-11-23T10:30:00+01:00',
    });
    for (let i = 0; i < 2; i += 1) expect((await postCallback(t.app, asap())).statusCode).toBe(201);
    // 3 waiting → 10:30, the closure's start: refused.
    await refusedAsap(t.app);
    t.clock.set(paris('2026-11-23T10:40:00+01:00'));
    await f.sql.query("UPDATE callbacks SET status = 'cancelled', ended_at = now()");
    await refusedAsap(t.app);
  });

  it('waiting in the queue are named to ops by a closure that meets their promise', async () => {
    const t = await f.start('postgres', { now: '2026-11-24T12:00:00+01:00' });
    await availableAgent(t.app);
    const waiting = (await postCallback(t.app, asap())).json();
    expect(waiting.window.end).toBe('2026-11-24T12:45:00+01:00');
    const closure = (start: string, end: string) =>
      postClosure(t.app, { date: '2026-11-24', reason: 'Panne', start, end });
    const after = await closure('12:45', '13:00');
    expect(after.statusCode, after.body).toBe(201);
    expect(after.json().asapWaiting).toEqual([]);
    const over = await closure('12:05', '12:30');
    expect(over.statusCode, over.body).toBe(201);
    expect(over.json().asapWaiting).toEqual([waiting.reference]);
  });

  it('are duplicates of an active slot booking of the same phone and domain', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await availableAgent(t.app);
    const first = booking({ slotStart: '2026-11-23T11:00:00+01:00' });
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    expectProblem(await postCallback(t.app, asap({ phone: first.phone })), 'DUPLICATE_REQUEST');
  });

  it('answer DUPLICATE_REQUEST before a promise that cannot be kept, but a closed centre first', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await availableAgent(t.app);
    const first = asap();
    const key = { 'idempotency-key': `asap-${first.phone}` };
    const created = await postCallback(t.app, first, key);
    expect(created.statusCode, created.body).toBe(201);
    // Nobody is available any more: the promise could not be kept, but the phone already has one.
    await setStatus(t.app, agent.token, 'paused');
    expectProblem(await postCallback(t.app, asap({ phone: first.phone })), 'DUPLICATE_REQUEST');
    // The same request again with its key is its first answer, not a duplicate of itself.
    const replay = await postCallback(t.app, first, key);
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.json()).toEqual(created.json());
    expectProblem(
      await postCallback(t.app, { ...first, subject: 'autre chose' }, key),
      'IDEMPOTENCY_KEY_REUSED',
    );
    // Another phone still gets ASAP_UNAVAILABLE; and on Saturday the closed centre comes first.
    await refusedAsap(t.app);
    t.clock.set(paris('2026-11-28T10:00:00+01:00'));
    expect(
      expectProblem(await postCallback(t.app, asap({ phone: first.phone })), 'ASAP_UNAVAILABLE'),
    ).toMatchObject({ reason: 'closed' });
  });

  it('answer a closed centre first even when the closures read a moment ago said open', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await availableAgent(t.app);
    const first = asap();
    // Reads, and remembers for a few seconds, the day's closures (none yet).
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    await setStatus(t.app, agent.token, 'paused');
    await addClosure(f.sql, '2026-11-23', { start: '10:00', end: '11:00' });
    expect(
      expectProblem(await postCallback(t.app, asap({ phone: first.phone })), 'ASAP_UNAVAILABLE'),
    ).toMatchObject({ reason: 'closed' });
  });
});
