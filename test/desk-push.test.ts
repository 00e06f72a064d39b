import { describe, expect, it } from 'vitest';
import { assignHeadToIdlest, PUSH_GRACE_MS } from '../src/repositories/push.js';
import type { TestContext } from './support/runtime.js';
import { createAgent, ops, setStatus } from './support/api.js';
import { appOfItsOwn, DESK_NOW as NOW, outcome, pull, queued } from './support/desk.js';

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
