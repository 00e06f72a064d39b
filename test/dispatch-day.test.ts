import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { PUSH_GRACE_MS } from '../src/repositories/push.js';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { booking, createAgent, ops, setStatus } from './support/api.js';
import { outcome, pull } from './support/desk.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

/**
 * A day (and a half) at the Metz centre, played with the injected clock. The reconciler sweep
 * stands for the worker's tick (it queues what is due, releases leases, carries over, dispatches).
 */
describe('a day of dispatch', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  const refs: Record<string, string> = {};
  let A: { id: string; token: string };
  let B: { id: string; token: string };
  let C: { id: string; token: string };

  const book = async (name: string, payload: Record<string, unknown>) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking(payload) });
    expect(res.statusCode, res.body).toBe(201);
    refs[name] = res.json().reference;
    return res.json();
  };
  const view = async (name: string) =>
    (await t.app.inject({ url: `/v1/callbacks/${refs[name]}`, headers: ops })).json();
  const tick = () => t.rt.services.reconciler.sweep();

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', {
      now: '2026-11-23T08:00:00+01:00',
      env: {
        ...NO_LIMITS,
        MAX_ATTEMPTS: '3',
        RETRY_DELAY_MINUTES: '15',
        ASSIGNMENT_TIMEOUT_MINUTES: '30',
      },
    });
    A = await createAgent(t.app, ['travail'], 'Alice');
    B = await createAgent(t.app, ['travail', 'logement'], 'Bruno');
    C = await createAgent(t.app, ['justice'], 'Chloé');
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('plays the day and every callback ends where the rules say', async () => {
    // 08:00 — bookings for the morning
    await book('t0900', { domain: 'travail', slotStart: '2026-11-23T09:00:00+01:00' });
    await book('l0930', { domain: 'logement', slotStart: '2026-11-23T09:30:00+01:00' });
    await book('j1000', { domain: 'justice', slotStart: '2026-11-23T10:00:00+01:00' });
    await book('t1000', { domain: 'travail', slotStart: '2026-11-23T10:00:00+01:00' });
    expect((await view('t0900')).status).toBe('scheduled');

    // 08:40 — nothing is due yet; an asap request needs someone available
    t.clock.set(at('2026-11-23T08:40:00+01:00'));
    expect(await pull(t.app, A.token)).toBeNull(); // pulling makes Alice available, 204
    const asap = await book('asap', { domain: 'travail', mode: 'asap', slotStart: undefined });
    expect(asap.status).toBe('queued');
    expect(asap.window).toEqual({ start: '2026-11-23T08:40:00+01:00', end: '2026-11-23T09:25:00+01:00' });
    await tick(); // the worker offers it to Alice, idle
    expect((await view('asap')).status).toBe('assigned');
    const a1 = await pull(t.app, A.token);
    expect(a1?.reference).toBe(refs.asap);
    expect(a1?.phone).toMatch(/^\+336\d{8}$/);
    expect((await pull(t.app, A.token))?.reference).toBe(refs.asap); // the same one while unfinished
    expect((await outcome(t.app, B.token, refs.asap!, { outcome: 'reached' })).statusCode).toBe(403);
    expect((await outcome(t.app, A.token, refs.asap!, { outcome: 'reached' })).json().status).toBe(
      'completed',
    );
    expect((await outcome(t.app, A.token, refs.asap!, { outcome: 'reached' })).statusCode).toBe(409);

    // 09:00 — the 09:00 travail window is due; Alice pulls it (no timer needed: pull queues what is due)
    t.clock.set(at('2026-11-23T09:00:00+01:00'));
    const a2 = await pull(t.app, A.token);
    expect(a2?.reference).toBe(refs.t0900);
    const na = await outcome(t.app, A.token, refs.t0900!, { outcome: 'no_answer' });
    expect(na.json()).toMatchObject({
      status: 'scheduled',
      attempts: 1,
      nextAttemptAt: '2026-11-23T09:15:00+01:00',
    });

    // 09:30 — Bruno (travail + logement) pulls: the retry (due 09:15) comes before the 09:30 logement call
    t.clock.set(at('2026-11-23T09:30:00+01:00'));
    await setStatus(t.app, B.token, 'available');
    expect((await pull(t.app, B.token))?.reference).toBe(refs.t0900);
    expect(
      (
        await outcome(t.app, B.token, refs.t0900!, {
          outcome: 'redirected',
          redirectedTo: '  Inspection du travail de la Moselle ',
        })
      ).json(),
    ).toMatchObject({
      status: 'completed',
      redirectedTo: 'Inspection du travail de la Moselle',
      attempts: 2,
    });
    const b2 = await pull(t.app, B.token);
    expect(b2?.reference).toBe(refs.l0930);
    expect((await outcome(t.app, B.token, refs.l0930!, { outcome: 'wrong_number' })).json().status).toBe(
      'failed',
    );

    // 10:00 — Bruno takes the 10:00 travail call and then vanishes: the lease expires
    t.clock.set(at('2026-11-23T10:00:00+01:00'));
    await setStatus(t.app, A.token, 'paused'); // Alice takes a break
    // Bruno's last outcome was a moment ago on the wall clock (this test's business clock
    // jumps): push leaves him PUSH_GRACE_MS to pull by himself before it pushes to him.
    await new Promise((r) => setTimeout(r, PUSH_GRACE_MS + 20));
    await tick();
    expect((await view('t1000')).status).toBe('assigned');
    expect(
      (
        await t.rt.db
          .selectFrom('callbacks')
          .select('assigned_agent_id')
          .where('reference', '=', refs.t1000!)
          .executeTakeFirstOrThrow()
      ).assigned_agent_id,
    ).toBe(B.id);
    t.clock.set(at('2026-11-23T10:31:00+01:00'));
    const sweep = await tick();
    expect(sweep.leasesReleased).toBe(1);
    const t1000 = await view('t1000');
    expect(t1000.history.map((h: { type: string }) => h.type)).toContain('lease_expired');
    const agents = (await t.app.inject({ url: '/v1/agents', headers: ops })).json();
    expect(agents.find((a: { id: string }) => a.id === B.id).status).toBe('paused');
    // Nobody is available: the released call waits at the head of the queue until Alice is back
    expect((await view('t1000')).status).toBe('queued');
    // Bruno, back too late, is told it went back to the queue (it was pushed to him); Chloé,
    // who never had it, only that it is not hers.
    const late = await outcome(t.app, B.token, refs.t1000!, { outcome: 'reached' });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ code: 'INVALID_TRANSITION', callbackStatus: 'queued' });
    const stranger = await outcome(t.app, C.token, refs.t1000!, { outcome: 'reached' });
    expect(stranger.statusCode).toBe(403);
    expect(stranger.json()).not.toHaveProperty('callbackStatus');
    await setStatus(t.app, A.token, 'available');
    expect((await pull(t.app, A.token))?.reference).toBe(refs.t1000);
    expect((await outcome(t.app, B.token, refs.t1000!, { outcome: 'reached' })).statusCode).toBe(403);
    await outcome(t.app, A.token, refs.t1000!, { outcome: 'reached' });
    expect((await outcome(t.app, B.token, refs.t1000!, { outcome: 'reached' })).json()).toMatchObject({
      code: 'INVALID_TRANSITION',
      callbackStatus: 'completed',
    });

    // justice: Chloé is offline all morning; the 10:00 call waits in the queue
    expect((await view('j1000')).status).toBe('queued');

    // Tuesday 12:50 — a no-answer whose retry would fall after the 13:00 closing goes to Wednesday 08:30
    t.clock.set(at('2026-11-24T08:00:00+01:00'));
    await book('tue', { domain: 'travail', slotStart: '2026-11-24T12:30:00+01:00' });
    t.clock.set(at('2026-11-24T12:50:00+01:00'));
    expect((await pull(t.app, A.token))?.reference).toBe(refs.tue);
    expect((await outcome(t.app, A.token, refs.tue!, { outcome: 'no_answer' })).json().nextAttemptAt).toBe(
      '2026-11-25T08:30:00+01:00',
    );

    // Tuesday 13:05 — closed: what is still queued (the justice call) is carried over
    t.clock.set(at('2026-11-24T13:05:00+01:00'));
    const closing = await tick();
    expect(closing.carriedOver).toBe(1);
    expect((await view('j1000')).carriedOver).toBe(true);

    // Wednesday 08:30 — Chloé arrives; a new justice call is due at 08:30 too: the carried-over one comes first
    t.clock.set(at('2026-11-24T13:10:00+01:00'));
    await book('j0830', { domain: 'justice', slotStart: '2026-11-25T08:30:00+01:00' });
    t.clock.set(at('2026-11-25T08:30:00+01:00'));
    expect((await pull(t.app, C.token))?.reference).toBe(refs.j1000);
    await outcome(t.app, C.token, refs.j1000!, { outcome: 'reached' });
    expect((await pull(t.app, C.token))?.reference).toBe(refs.j0830);
    await outcome(t.app, C.token, refs.j0830!, { outcome: 'reached' });

    // The Tuesday retry: two more no-answers and it fails as unreachable (MAX_ATTEMPTS = 3)
    expect((await pull(t.app, A.token))?.reference).toBe(refs.tue);
    expect((await outcome(t.app, A.token, refs.tue!, { outcome: 'no_answer' })).json()).toMatchObject({
      status: 'scheduled',
      attempts: 2,
    });
    t.clock.set(at('2026-11-25T08:46:00+01:00'));
    expect((await pull(t.app, A.token))?.reference).toBe(refs.tue);
    expect((await outcome(t.app, A.token, refs.tue!, { outcome: 'no_answer' })).json()).toMatchObject({
      status: 'failed',
      attempts: 3,
      outcome: 'unreachable',
    });
    expect(await pull(t.app, A.token)).toBeNull();

    const final = Object.fromEntries(
      await Promise.all(Object.keys(refs).map(async (k) => [k, (await view(k)).status])),
    );
    expect(final).toEqual({
      t0900: 'completed',
      l0930: 'failed',
      j1000: 'completed',
      t1000: 'completed',
      asap: 'completed',
      tue: 'failed',
      j0830: 'completed',
    });
    const queue = (await t.app.inject({ url: '/v1/queue', headers: ops })).json();
    for (const d of queue.domains) expect([d.scheduled, d.queued, d.assigned]).toEqual([0, 0, 0]);
    const history = (await view('tue')).history.map((h: { type: string; actor: string }) => h.type);
    expect(history).toEqual([
      'created',
      'queued',
      'assigned',
      'outcome',
      'queued',
      'assigned',
      'outcome',
      'queued',
      'assigned',
      'outcome',
    ]);
  });
});
