import type pg from 'pg';
import { expect } from 'vitest';
import { PUSH_GRACE_MS } from '../../../src/repositories/push.js';
import { ACTIVE, Model, type MCallback } from './model.js';

interface Row {
  id: string;
  status: string;
  attempts: number;
  assigned_agent_id: string | null;
  carried_over: boolean;
}

export async function callbackRows(sql: pg.Pool): Promise<Map<string, Row>> {
  const { rows } = await sql.query<Row>(
    'SELECT id, status, attempts, assigned_agent_id, carried_over FROM callbacks',
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * After a dispatch (pushed by dispatchDomain, possibly twice, or by a sweep) over `domains`:
 * the only changes allowed are queued callbacks of those domains put on the empty desk of an
 * available informateur of their domain, heads of the queue first, until no such desk or no
 * such callback is left. The model takes them over.
 */
export async function syncDispatch(
  sql: pg.Pool,
  m: Model,
  domains: string[],
  now: number,
  /** Wall clock (ms) when the dispatch began: who was inside their push grace then may stay idle. */
  startedAt: number,
): Promise<void> {
  const rows = await callbackRows(sql);
  const before = new Map(m.callbacks.map((c) => [c.id, { status: c.status, agent: c.agent }]));
  const assigned: MCallback[] = [];
  for (const c of m.callbacks) {
    const r = rows.get(c.id)!;
    if (r.status === c.status && r.assigned_agent_id === c.agent) continue;
    const agent = m.agents.find((a) => a.id === r.assigned_agent_id);
    const deskWasFree =
      agent && ![...before.values()].some((b) => b.status === 'assigned' && b.agent === agent.id);
    const legal =
      c.status === 'queued' &&
      r.status === 'assigned' &&
      domains.includes(c.domain) &&
      agent?.status === 'available' &&
      agent.domains.includes(c.domain) &&
      deskWasFree;
    expect(legal, `dispatch moved ${c.reference} ${c.status}→${r.status} (${r.assigned_agent_id})`).toBe(
      true,
    );
    assigned.push(c);
  }
  for (const c of assigned) m.assign(c, rows.get(c.id)!.assigned_agent_id!, now);
  for (const d of domains) {
    const waiting = m.callbacks.filter((c) => c.domain === d && c.status === 'queued');
    // Their outcome returned after the database took its freed_at: if the run saw them inside
    // the grace, so does this (it ends no earlier here); the model may only exempt a little more.
    const inGrace = (a: (typeof m.agents)[number]) =>
      a.freedAt !== undefined && startedAt - a.freedAt < PUSH_GRACE_MS;
    const idle = m.agents.filter(
      (a) => a.status === 'available' && a.domains.includes(d) && !m.deskOf(a.id) && !inGrace(a),
    );
    expect(
      waiting.length === 0 || idle.length === 0,
      `dispatch of ${d} stopped with work and an idle desk`,
    ).toBe(true);
    for (const x of assigned.filter((c) => c.domain === d))
      for (const y of waiting)
        expect(Model.compare(x, y), `${y.reference} was ahead of ${x.reference}`).toBeLessThanOrEqual(0);
  }
}

/** The invariants, read from the database after every step. */
export async function checkInvariants(sql: pg.Pool, m: Model): Promise<void> {
  // No callback lost, none invented; each in the state the model expects.
  const rows = await callbackRows(sql);
  expect(rows.size, 'callbacks in the database').toBe(m.callbacks.length);
  for (const c of m.callbacks) {
    const r = rows.get(c.id);
    expect(r, `callback ${c.reference} exists`).toBeDefined();
    expect(
      { status: r!.status, attempts: r!.attempts, agent: r!.assigned_agent_id, carriedOver: r!.carried_over },
      c.reference,
    ).toEqual({ status: c.status, attempts: c.attempts, agent: c.agent, carriedOver: c.carriedOver });
  }
  // One history entry per state change: duplicate deliveries and retries add none.
  const { rows: events } = await sql.query<{ callback_id: string; type: string; n: number }>(
    'SELECT callback_id, type, count(*)::int AS n FROM callback_events GROUP BY 1, 2',
  );
  const actual = new Map<string, Record<string, number>>();
  for (const e of events) actual.set(e.callback_id, { ...actual.get(e.callback_id), [e.type]: e.n });
  for (const c of m.callbacks) expect(actual.get(c.id), `history of ${c.reference}`).toEqual(c.events);
  // Never two desks for one callback, never two unfinished callbacks on one desk.
  const { rows: desks } = await sql.query<{ agent: string; n: number }>(
    `SELECT assigned_agent_id AS agent, count(*)::int AS n FROM callbacks
     WHERE status = 'assigned' GROUP BY 1`,
  );
  for (const d of desks) expect(d.n, `desk of ${d.agent}`).toBe(1);
  const { rows: bad } = await sql.query(
    `SELECT id FROM callbacks WHERE (status = 'assigned') <> (assigned_agent_id IS NOT NULL)`,
  );
  expect(bad).toEqual([]);
  // Each window: booked within capacity, and equal to its bookings not cancelled before their first call.
  const { rows: loads } = await sql.query<{ domain: string; window_start: Date; booked: number }>(
    'SELECT domain, window_start, booked FROM window_load',
  );
  const windows = new Set([
    ...loads.map((l) => `${l.domain}|${l.window_start.getTime()}`),
    ...m.callbacks.filter((c) => ACTIVE.includes(c.status)).map((c) => `${c.domain}|${c.windowStart}`),
  ]);
  for (const w of windows) {
    const [domain, start] = w.split('|') as [string, string];
    const booked =
      loads.find((l) => l.domain === domain && l.window_start.getTime() === Number(start))?.booked ?? 0;
    expect(booked, `booked of ${w}`).toBeLessThanOrEqual(m.capacity(domain));
    expect(booked, `booked of ${w}`).toBe(m.holding(domain, Number(start)));
  }
  // Informateurs' statuses as the model expects.
  const { rows: agents } = await sql.query<{ id: string; status: string }>('SELECT id, status FROM agents');
  for (const a of m.agents)
    expect(agents.find((x) => x.id === a.id)?.status, `informateur ${a.id}`).toBe(a.status);
}
