import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeReference } from '../src/domain/reference.js';
import { claimNext } from '../src/repositories/dispatch.js';
import { assignHeadToIdlest, PUSH_GRACE_MS } from '../src/repositories/push.js';
import { DISPATCH_BUCKET_MS } from '../src/services/dispatch.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { createAgent, nextPhone, ops, setStatus } from './support/api.js';
import { outcome, pull } from './support/desk.js';

const NOW = '2026-11-23T09:00:00+01:00';

/** A queued callback of `domain`, due `minutesAgo` before NOW (inserted as intake would leave it). */
async function queued(t: TestContext, domain: string, minutesAgo: number): Promise<string> {
  const reference = makeReference(randomBytes);
  const due = new Date(Date.parse(NOW) - minutesAgo * 60_000);
  await t.rt.db
    .insertInto('callbacks')
    .values({
      id: randomUUID(),
      reference,
      domain,
      mode: 'asap',
      status: 'queued',
      phone: `+33${nextPhone().slice(1)}`,
      phone_region: 'FR',
      window_start: due,
      window_end: new Date(due.getTime() + 45 * 60_000),
      due_at: due,
      queued_at: due,
      cancel_token_hash: randomBytes(32),
      created_at: due,
      updated_at: due,
    })
    .execute();
  return reference;
}

/** A database and an app of the describe block's own (its informateurs are nobody else's). */
function appOfItsOwn(set: (t: TestContext, dbUrl: string) => void): void {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let t: TestContext | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'redis', { now: NOW, env: { RATE_LIMIT_PER_IP_PER_MINUTE: '0' } });
    set(t, db.url);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });
}

describe('the desk: pull next and outcome', () => {
  let t: TestContext;
  let dbUrl: string;
  appOfItsOwn((ctx, url) => {
    t = ctx;
    dbUrl = url;
  });

  it('refuses a rotated token and a deactivated informateur at once', async () => {
    const a = await createAgent(t.app, ['interieur'], 'Inès');
    const first = await queued(t, 'interieur', 10);
    const second = await queued(t, 'interieur', 5);
    expect((await pull(t.app, a.token))?.reference).toBe(first);

    const rotated = await t.app.inject({ method: 'POST', url: `/v1/agents/${a.id}/token`, headers: ops });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const token = rotated.json().token as string;
    const old = { authorization: `Bearer ${a.token}` };
    expect((await t.app.inject({ method: 'POST', url: '/v1/agents/me/next', headers: old })).statusCode).toBe(
      401,
    );
    expect((await outcome(t.app, a.token, first, { outcome: 'reached' })).statusCode).toBe(401);
    // The new token works at once, on the same desk.
    expect((await pull(t.app, token))?.reference).toBe(first);
    expect((await outcome(t.app, token, first, { outcome: 'reached' })).json().status).toBe('completed');
    expect((await pull(t.app, token))?.reference).toBe(second);

    const off = await t.app.inject({
      method: 'PATCH',
      url: `/v1/agents/${a.id}`,
      headers: ops,
      payload: { active: false },
    });
    expect(off.statusCode, off.body).toBe(200);
    const auth = { authorization: `Bearer ${token}` };
    expect(
      (await t.app.inject({ method: 'POST', url: '/v1/agents/me/next', headers: auth })).statusCode,
    ).toBe(401);
    expect((await outcome(t.app, token, second, { outcome: 'reached' })).statusCode).toBe(401);
    // Its desk went back to the queue, with its history.
    const view = (await t.app.inject({ url: `/v1/callbacks/${second}`, headers: ops })).json();
    expect(view.status).toBe('queued');
    expect(view.history.map((h: { type: string }) => h.type)).toEqual(['assigned', 'unassigned']);
  });

  it('hands the callback back to the queue at once when its informateur goes offline, not when paused', async () => {
    const a = await createAgent(t.app, ['justice'], 'Odile');
    const b = await createAgent(t.app, ['justice'], 'Paul');
    await setStatus(t.app, b.token, 'paused');
    const held = await queued(t, 'justice', 40);
    const later = await queued(t, 'justice', 1);
    expect((await pull(t.app, a.token))?.reference).toBe(held);

    // Paused: the informateur finishes the call they hold.
    await setStatus(t.app, a.token, 'paused');
    expect((await t.app.inject({ url: `/v1/callbacks/${held}`, headers: ops })).json().status).toBe(
      'assigned',
    );

    await setStatus(t.app, a.token, 'offline');
    const view = (await t.app.inject({ url: `/v1/callbacks/${held}`, headers: ops })).json();
    expect(view.status).toBe('queued');
    expect(view.attempts).toBe(0);
    expect(view.history.map((h: { type: string }) => h.type)).toEqual(['assigned', 'unassigned']);
    expect(view.history[1]).toMatchObject({ actor: `agent:${a.id}`, data: { reason: 'agent_offline' } });
    expect((await outcome(t.app, a.token, held, { outcome: 'reached' })).statusCode).toBe(409);
    // It kept its place in line: the next informateur gets it before the one due later.
    expect((await pull(t.app, b.token))?.reference).toBe(held);
    expect((await pull(t.app, a.token))?.reference).toBe(later);
  });

  it('answers an outcome with 401, 404, 409 and 403 in that order', async () => {
    const a = await createAgent(t.app, ['logement'], 'Louis');
    const b = await createAgent(t.app, ['logement'], 'Lina');
    const ref = await queued(t, 'logement', 3);
    expect((await outcome(t.app, 'not-a-token', 'RAP-XXXXXX', { outcome: 'reached' })).statusCode).toBe(401);
    expect((await outcome(t.app, a.token, 'RAP-0', { outcome: 'reached' })).statusCode).toBe(404);
    expect((await outcome(t.app, a.token, 'RAP-333333', { outcome: 'reached' })).statusCode).toBe(404);
    const notYet = await outcome(t.app, a.token, ref, { outcome: 'reached' });
    expect(notYet.statusCode).toBe(409);
    expect(notYet.json()).toMatchObject({ code: 'INVALID_TRANSITION', callbackStatus: 'queued' });
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    expect((await outcome(t.app, b.token, ref, { outcome: 'reached' })).statusCode).toBe(403);
    expect((await outcome(t.app, 'not-a-token', ref, { outcome: 'redirected' })).statusCode).toBe(401);
    expect((await outcome(t.app, a.token, ref, { outcome: 'redirected' })).statusCode).toBe(400);
    // A destination with another outcome is refused, not dropped.
    const stray = await outcome(t.app, a.token, ref, { outcome: 'reached', redirectedTo: 'ADIL 57' });
    expect(stray.statusCode).toBe(400);
    expect(stray.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      detail: expect.stringContaining('redirectedTo'),
    });
    expect((await outcome(t.app, a.token, ref, { outcome: 'reached' })).statusCode).toBe(200);
    const history = (await t.app.inject({ url: `/v1/callbacks/${ref}`, headers: ops })).json().history;
    expect(history.map((h: { type: string }) => h.type)).toEqual(['assigned', 'outcome']);
  });

  it('locks only the callback it claims, not the head of every domain of the informateur', async () => {
    const both = await createAgent(t.app, ['justice', 'travail'], 'Jules');
    const travailOnly = await createAgent(t.app, ['travail'], 'Théo');
    const justice = await queued(t, 'justice', 30); // Jules's head: due first
    const travail = await queued(t, 'travail', 20);
    const now = new Date(NOW);
    await t.rt.db.transaction().execute(async (tx) => {
      const mine = await claimNext(tx, both.id, ['justice', 'travail'], now, now);
      expect(mine.callback?.reference).toBe(justice);
      // Jules's claim is not committed yet: Théo still finds the travail callback free.
      const other = await claimNext(t.rt.db, travailOnly.id, ['travail'], now, now);
      expect(other.callback?.reference).toBe(travail);
    });
    const events = await t.rt.db
      .selectFrom('callback_events')
      .innerJoin('callbacks', 'callbacks.id', 'callback_events.callback_id')
      .select(['callbacks.reference', 'callback_events.type', 'callback_events.actor'])
      .where('callbacks.reference', 'in', [justice, travail])
      .execute();
    expect(events).toHaveLength(2);
    expect(events).toContainEqual({ reference: justice, type: 'assigned', actor: `agent:${both.id}` });
    expect(events).toContainEqual({ reference: travail, type: 'assigned', actor: `agent:${travailOnly.id}` });
  });

  it('asks an outcome again when PostgreSQL rolls it back to break a deadlock', async () => {
    // The deadlock a push dispatch can make: it holds the informateur's row, then waits on the
    // callback whose outcome is being written, and the outcome waits on the informateur's row.
    const a = await createAgent(t.app, ['logement'], 'Lou');
    const ref = await queued(t, 'logement', 10);
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    const other = new pg.Client({ connectionString: dbUrl });
    await other.connect();
    try {
      await other.query("SET deadlock_timeout = '30s'"); // the outcome's side detects it (1 s)
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM agents WHERE id = $1 FOR UPDATE', [a.id]);
      const reported = outcome(t.app, a.token, ref, { outcome: 'reached' });
      // The outcome's session waits on the informateur's row (its query text may still show the
      // pull's: a statement prepared in the same round trip is not always reported yet).
      const waiting = async () => {
        const r = await other.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return r.rows[0].n as number;
      };
      await expect.poll(waiting, { timeout: 15_000, interval: 50 }).toBe(1);
      // Waits on the outcome's transaction: a deadlock, and the outcome is rolled back.
      await other.query('UPDATE callbacks SET updated_at = updated_at WHERE reference = $1', [ref]);
      await other.query('ROLLBACK');
      const res = await reported;
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().status).toBe('completed');
    } finally {
      await other.end();
    }
    const history = (await t.app.inject({ url: `/v1/callbacks/${ref}`, headers: ops })).json().history;
    expect(history.map((h: { type: string }) => h.type)).toEqual(['assigned', 'outcome']);
  });

  it('coalesces the dispatch signals of one bucket into one job per domain', async () => {
    for (let attempt = 0; ; attempt++) {
      await t.rt.queue.obliterate().catch(() => undefined);
      // Start at the beginning of a bucket, so that the burst and the look fit inside it: after
      // the bucket's end its jobs become due and may already have run (and been removed).
      await new Promise((r) => setTimeout(r, DISPATCH_BUCKET_MS - (Date.now() % DISPATCH_BUCKET_MS) + 1));
      const bucket = Math.floor(Date.now() / DISPATCH_BUCKET_MS);
      for (let i = 0; i < 5; i++)
        await t.rt.services.dispatch.signalDispatch(['justice', 'justice', 'logement']);
      const counts = await t.rt.queue.counts();
      const justice = await t.rt.queue.getJob(`dispatch-justice-${bucket}`);
      const logement = await t.rt.queue.getJob(`dispatch-logement-${bucket}`);
      // The bucket ended before we looked (a slow machine): that look proves nothing, try again.
      if (Math.floor(Date.now() / DISPATCH_BUCKET_MS) !== bucket && attempt < 20) continue;
      expect((counts.delayed ?? 0) + (counts.waiting ?? 0)).toBe(2);
      expect(justice).toBeDefined();
      expect(logement).toBeDefined();
      return;
    }
  });
});

describe('the ops queue view', () => {
  let t: TestContext;
  appOfItsOwn((ctx) => {
    t = ctx;
  });

  it('counts informateurs by status, and those with a callback on their desk as on call', async () => {
    const counts = async (domain: string) => {
      const res = await t.app.inject({ url: '/v1/queue', headers: ops });
      expect(res.statusCode, res.body).toBe(200);
      const d = (res.json().domains as Record<string, unknown>[]).find((x) => x.domain === domain)!;
      return [d.availableInformateurs, d.onCallInformateurs, d.queued, d.assigned];
    };
    const a = await createAgent(t.app, ['logement'], 'Léa');
    const b = await createAgent(t.app, ['logement', 'travail'], 'Louis');
    await setStatus(t.app, a.token, 'available');
    await setStatus(t.app, b.token, 'available');
    const ref = await queued(t, 'logement', 3);
    expect(await counts('logement')).toEqual([2, 0, 1, 0]);
    // Pulling keeps an informateur available (the contract's status), now on a call.
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    expect(await counts('logement')).toEqual([2, 1, 0, 1]);
    await setStatus(t.app, b.token, 'paused');
    expect(await counts('logement')).toEqual([1, 1, 0, 1]);
    expect((await outcome(t.app, a.token, ref, { outcome: 'reached' })).statusCode).toBe(200);
    expect(await counts('logement')).toEqual([1, 0, 0, 0]);
    // An informateur of two domains on a call counts in both.
    await setStatus(t.app, b.token, 'available');
    const other = await queued(t, 'travail', 2);
    expect((await pull(t.app, b.token))?.reference).toBe(other);
    expect(await counts('logement')).toEqual([2, 1, 0, 0]);
    expect(await counts('travail')).toEqual([1, 1, 0, 1]);
  });
});

describe('push dispatch', () => {
  let t: TestContext;
  appOfItsOwn((ctx) => (t = ctx));

  /** A row lock leaves the locker's transaction id in xmax once committed; an untouched row has 0. */
  const xmax = async (table: 'agents' | 'callbacks', column: 'id' | 'reference', value: string) => {
    const { rows } = await t.rt.pool.query<{ xmax: string }>(
      `SELECT xmax::text AS xmax FROM ${table} WHERE ${column} = $1`,
      [value],
    );
    return rows[0]?.xmax;
  };

  it('locks no informateur while nothing is queued, and no callback while nobody is free', async () => {
    const now = new Date(NOW);
    const agent = await createAgent(t.app, ['justice'], 'Jade');
    await setStatus(t.app, agent.token, 'available');
    // Free informateur, empty queue: nothing to do, nothing locked (a lock is a WAL write and a commit to flush).
    expect((await assignHeadToIdlest(t.rt.db, 'justice', now, 30)).assigned).toBeNull();
    expect(await xmax('agents', 'id', agent.id)).toBe('0');

    // Queued callback, nobody free: the head stays unlocked for the pulls.
    await setStatus(t.app, agent.token, 'paused');
    const ref = await queued(t, 'justice', 5);
    expect((await assignHeadToIdlest(t.rt.db, 'justice', now, 30)).assigned).toBeNull();
    expect(await xmax('callbacks', 'reference', ref)).toBe('0');

    // Both: assigned (by this call, or by the worker's run the status change signalled).
    await setStatus(t.app, agent.token, 'available');
    await assignHeadToIdlest(t.rt.db, 'justice', now, 30);
    const { rows } = await t.rt.pool.query(
      'SELECT status, assigned_agent_id FROM callbacks WHERE reference = $1',
      [ref],
    );
    expect(rows[0]).toEqual({ status: 'assigned', assigned_agent_id: agent.id });
  });

  it('leaves an informateur whose outcome just freed the desk time to pull, then pushes if they wait', async () => {
    const now = new Date(NOW);
    const agent = await createAgent(t.app, ['logement'], 'Léa');
    const first = await queued(t, 'logement', 20);
    const second = await queued(t, 'logement', 10);
    expect((await pull(t.app, agent.token))?.reference).toBe(first);
    // The statement's rule, on the database clock: inside the grace nobody is pushed to, and
    // the run learns when to look again.
    await t.rt.pool.query(`UPDATE agents SET freed_at = now() + interval '10 seconds' WHERE id = $1`, [
      agent.id,
    ]);
    await t.rt.pool.query(
      `UPDATE callbacks SET status = 'completed', assigned_agent_id = NULL WHERE reference = $1`,
      [first],
    );
    const held = await assignHeadToIdlest(t.rt.db, 'logement', now, 30);
    expect(held.assigned).toBeNull();
    expect(held.assigned === null && held.graceEndsInMs).toBeGreaterThan(10_000);
    expect(await xmax('callbacks', 'reference', second)).toBe('0');
    await t.rt.pool.query(`UPDATE agents SET freed_at = now() - interval '1 second' WHERE id = $1`, [
      agent.id,
    ]);
    await assignHeadToIdlest(t.rt.db, 'logement', now, 30); // or the worker's run, if it came first
    const desk = await t.rt.pool.query('SELECT assigned_agent_id FROM callbacks WHERE reference = $1', [
      second,
    ]);
    expect(desk.rows[0]).toEqual({ assigned_agent_id: agent.id });

    // An outcome sets freed_at; an informateur who then waits without pulling is pushed the
    // next callback by a run after the grace (this app runs no worker: the run is called here).
    const third = await queued(t, 'logement', 5);
    const res = await outcome(t.app, agent.token, second, { outcome: 'reached' });
    expect(res.statusCode, res.body).toBe(200);
    const { rows } = await t.rt.pool.query<{ freed: boolean }>(
      `SELECT freed_at > now() - interval '1 minute' AS freed FROM agents WHERE id = $1`,
      [agent.id],
    );
    expect(rows[0]?.freed).toBe(true);
    await new Promise((r) => setTimeout(r, PUSH_GRACE_MS + 50));
    expect(await t.rt.services.dispatch.dispatchDomain('logement')).toBe(1);
    expect((await pull(t.app, agent.token))?.reference).toBe(third);
  });
});
