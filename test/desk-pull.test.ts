import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { claimNext } from '../src/repositories/dispatch.js';
import { DISPATCH_BUCKET_MS } from '../src/services/dispatch.js';
import type { TestContext } from './support/runtime.js';
import { createAgent, ops, setStatus } from './support/api.js';
import { appOfItsOwn, DESK_NOW as NOW, outcome, pull, queued } from './support/desk.js';

/** Sessions of this database, other than `client`'s, waiting on a lock. */
async function lockWaiters(client: pg.Client): Promise<number> {
  const r = await client.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
  );
  return r.rows[0].n as number;
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

  it('answers an outcome with 401, 404, 403 and 409 in that order', async () => {
    const a = await createAgent(t.app, ['logement'], 'Louis');
    const b = await createAgent(t.app, ['logement'], 'Lina');
    const ref = await queued(t, 'logement', 3);
    expect((await outcome(t.app, 'not-a-token', 'RAP-XXXXXX', { outcome: 'reached' })).statusCode).toBe(401);
    expect((await outcome(t.app, a.token, 'RAP-0', { outcome: 'reached' })).statusCode).toBe(404);
    expect((await outcome(t.app, a.token, 'RAP-333333', { outcome: 'reached' })).statusCode).toBe(404);
    // Never given to Louis: another informateur's callback, whatever its state (not told).
    const notYet = await outcome(t.app, a.token, ref, { outcome: 'reached' });
    expect(notYet.statusCode).toBe(403);
    expect(notYet.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(notYet.json()).not.toHaveProperty('callbackStatus');
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    expect((await outcome(t.app, b.token, ref, { outcome: 'reached' })).statusCode).toBe(403);
    expect((await outcome(t.app, 'not-a-token', ref, { outcome: 'redirected' })).statusCode).toBe(401);
    expect((await outcome(t.app, a.token, ref, { outcome: 'redirected', redirectedTo: 42 })).statusCode).toBe(
      400,
    );
    // A destination with another outcome is refused, not dropped.
    const stray = await outcome(t.app, a.token, ref, { outcome: 'reached', redirectedTo: 'ADIL 57' });
    expect(stray.statusCode).toBe(400);
    expect(stray.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      detail: expect.stringContaining('redirectedTo'),
    });
    expect((await outcome(t.app, a.token, ref, { outcome: 'reached' })).statusCode).toBe(200);
    // Louis, who made the call, is told it is done; Lina, who never had it, is not.
    const again = await outcome(t.app, a.token, ref, { outcome: 'reached' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'INVALID_TRANSITION', callbackStatus: 'completed' });
    const other = await outcome(t.app, b.token, ref, { outcome: 'no_answer' });
    expect(other.statusCode).toBe(403);
    expect(other.json()).not.toHaveProperty('callbackStatus');
    const history = (await t.app.inject({ url: `/v1/callbacks/${ref}`, headers: ops })).json().history;
    expect(history.map((h: { type: string }) => h.type)).toEqual(['assigned', 'outcome']);
  });

  it('takes a redirection without its destination, as the contract makes redirectedTo optional', async () => {
    const a = await createAgent(t.app, ['justice'], 'Jules');
    const ref = await queued(t, 'justice', 2);
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    const res = await outcome(t.app, a.token, ref, { outcome: 'redirected', redirectedTo: '   ' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'completed', outcome: 'redirected', redirectedTo: null });
    const ref2 = await queued(t, 'justice', 3);
    expect((await pull(t.app, a.token))?.reference).toBe(ref2);
    const bare = await outcome(t.app, a.token, ref2, { outcome: 'redirected' });
    expect(bare.statusCode, bare.body).toBe(200);
    expect(bare.json()).toMatchObject({ status: 'completed', outcome: 'redirected', redirectedTo: null });
    const ref3 = await queued(t, 'justice', 4);
    expect((await pull(t.app, a.token))?.reference).toBe(ref3);
    const empty = await outcome(t.app, a.token, ref3, { outcome: 'redirected', redirectedTo: '' });
    expect(empty.statusCode, empty.body).toBe(200);
    expect(empty.json()).toMatchObject({ status: 'completed', outcome: 'redirected', redirectedTo: null });
  });

  it('tells the informateur the state a callback took while their outcome waited for it', async () => {
    const a = await createAgent(t.app, ['travail'], 'Irène');
    const ref = await queued(t, 'travail', 2);
    expect((await pull(t.app, a.token))?.reference).toBe(ref);
    const other = new pg.Client({ connectionString: dbUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM callbacks WHERE reference = $1 FOR UPDATE', [ref]);
      // The outcome's statement sees the callback on Irène's desk, then waits for its row...
      const reported = outcome(t.app, a.token, ref, { outcome: 'reached' });
      await expect.poll(() => lockWaiters(other), { timeout: 15_000, interval: 50 }).toBe(1);
      // ...which meanwhile goes back to the queue (as a lease released by the sweep).
      await other.query(
        `UPDATE callbacks SET status = 'queued', assigned_agent_id = NULL, assigned_at = NULL,
           lease_expires_at = NULL WHERE reference = $1`,
        [ref],
      );
      await other.query('COMMIT');
      const res = await reported;
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toMatchObject({ code: 'INVALID_TRANSITION', callbackStatus: 'queued' });
    } finally {
      await other.end();
    }
  });

  it('gives nothing to an informateur who goes offline or pauses while the claim waits for their row', async () => {
    // An outside run (helper-65): a pull racing « offline » left the informateur offline with a
    // callback on the desk (the statement saw them available, then waited for the row and
    // claimed anyway), until the lease ran out; one racing « paused » gave them a new one.
    const a = await createAgent(t.app, ['justice'], 'Odile');
    const ref = await queued(t, 'justice', 10);
    await setStatus(t.app, a.token, 'available');
    const other = new pg.Client({ connectionString: dbUrl });
    await other.connect();
    try {
      for (const status of ['offline', 'paused']) {
        await other.query(`UPDATE agents SET status = 'available' WHERE id = $1`, [a.id]);
        await other.query('BEGIN');
        await other.query(`UPDATE agents SET status = $2 WHERE id = $1`, [a.id, status]);
        const claimed = pull(t.app, a.token);
        await expect.poll(() => lockWaiters(other), { timeout: 15_000, interval: 50 }).toBe(1);
        await other.query('COMMIT');
        expect(await claimed, status).toBeNull();
        const held = await other.query(`SELECT status FROM callbacks WHERE reference = $1`, [ref]);
        expect(held.rows[0].status, status).toBe('queued');
        const agent = await other.query(`SELECT status FROM agents WHERE id = $1`, [a.id]);
        expect(agent.rows[0].status).toBe(status);
      }
      // Available again, the next pull takes it.
      expect((await pull(t.app, a.token))?.reference).toBe(ref);
    } finally {
      await other.end();
    }
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
      await expect.poll(() => lockWaiters(other), { timeout: 15_000, interval: 50 }).toBe(1);
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
