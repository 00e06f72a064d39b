import { sql } from 'kysely';
import type { Db } from '../db/schema.js';
import { CALLBACK_COLUMNS, toCallback, type CallbackRecord } from './callbacks.js';

const RETURNING = sql.join(CALLBACK_COLUMNS.map((c) => sql.ref(`c.${c}`)));

/** Locks the informateur's row: every pull of one informateur runs one at a time. */
export async function lockAgent(
  db: Db,
  agentId: string,
): Promise<{ domains: string[]; status: string } | null> {
  const row = await db
    .selectFrom('agents')
    .select(['domains', 'status'])
    .where('id', '=', agentId)
    .where('active', '=', true)
    .forUpdate()
    .executeTakeFirst();
  return row ?? null;
}

export async function deskOf(db: Db, agentId: string): Promise<CallbackRecord | null> {
  const row = await db
    .selectFrom('callbacks')
    .select(CALLBACK_COLUMNS)
    .where('assigned_agent_id', '=', agentId)
    .where('status', '=', 'assigned')
    .executeTakeFirst();
  return row ? toCallback(row as Parameters<typeof toCallback>[0]) : null;
}

/**
 * Claims the next queued callback of the given domains for one informateur, in one statement:
 * the head of each domain's queue (carried over first, then earliest due, then fewest attempts)
 * is locked with SKIP LOCKED, so concurrent claimers never wait on nor take the same row.
 */
export async function claimNext(
  db: Db,
  agentId: string,
  domains: string[],
  now: Date,
  leaseUntil: Date,
): Promise<CallbackRecord | null> {
  const res = await sql<Parameters<typeof toCallback>[0]>`
    WITH pick AS (
      SELECT q.id FROM unnest(${domains}::text[]) AS d(domain)
      CROSS JOIN LATERAL (
        SELECT id, carried_over, due_at, attempts FROM callbacks
        WHERE status = 'queued' AND domain = d.domain
        ORDER BY carried_over DESC, due_at, attempts
        LIMIT 1 FOR UPDATE SKIP LOCKED
      ) q
      ORDER BY q.carried_over DESC, q.due_at, q.attempts
      LIMIT 1
    )
    UPDATE callbacks c SET status = 'assigned', assigned_agent_id = ${agentId}, assigned_at = ${now},
      lease_expires_at = ${leaseUntil}, updated_at = ${now}
    FROM pick WHERE c.id = pick.id AND c.status = 'queued'
    RETURNING ${RETURNING}`.execute(db);
  const row = res.rows[0];
  return row ? toCallback(row) : null;
}

/**
 * Push dispatch for one domain: the informateur of the domain who is available, has an empty
 * desk and has been idle longest gets the head of the domain's queue. Returns null when there
 * is no such informateur or nothing queued.
 */
export async function assignHeadToIdlest(
  db: Db,
  domain: string,
  now: Date,
  leaseMinutes: number,
): Promise<{ callbackId: string; agentId: string; dueAt: Date } | null> {
  const res = await sql<{ callback_id: string; agent_id: string; due_at: Date }>`
    WITH agent AS (
      SELECT a.id FROM agents a
      WHERE a.active AND a.status = 'available' AND a.domains @> ARRAY[${domain}]::text[]
        AND NOT EXISTS (SELECT 1 FROM callbacks d WHERE d.assigned_agent_id = a.id AND d.status = 'assigned')
      ORDER BY a.available_since NULLS FIRST, a.id
      LIMIT 1 FOR UPDATE SKIP LOCKED
    ), head AS (
      SELECT id FROM callbacks WHERE status = 'queued' AND domain = ${domain}
      ORDER BY carried_over DESC, due_at, attempts
      LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    UPDATE callbacks c SET status = 'assigned', assigned_agent_id = agent.id, assigned_at = ${now},
      lease_expires_at = ${now}::timestamptz + make_interval(mins => ${leaseMinutes}), updated_at = ${now}
    FROM agent, head WHERE c.id = head.id AND c.status = 'queued'
    RETURNING c.id AS callback_id, agent.id AS agent_id, c.due_at`.execute(db);
  const row = res.rows[0];
  return row ? { callbackId: row.callback_id, agentId: row.agent_id, dueAt: row.due_at } : null;
}

/** Assignments whose lease ran out go back to the queue; their informateurs are paused. */
export async function releaseExpiredLeases(
  db: Db,
  now: Date,
  limit = 500,
): Promise<{ id: string; domain: string; agentId: string }[]> {
  const res = await sql<{ id: string; domain: string; agent_id: string }>`
    WITH expired AS (
      SELECT id, assigned_agent_id FROM callbacks
      WHERE status = 'assigned' AND lease_expires_at <= ${now}
      ORDER BY lease_expires_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ), released AS (
      UPDATE callbacks c SET status = 'queued', assigned_agent_id = NULL, assigned_at = NULL,
        lease_expires_at = NULL, queued_at = ${now}, updated_at = ${now}
      FROM expired WHERE c.id = expired.id AND c.status = 'assigned'
      RETURNING c.id, c.domain, expired.assigned_agent_id AS agent_id
    ), paused AS (
      UPDATE agents a SET status = 'paused', available_since = NULL, updated_at = ${now}
      FROM released WHERE a.id = released.agent_id AND a.status = 'available'
      RETURNING a.id
    )
    SELECT id, domain, agent_id FROM released`.execute(db);
  return res.rows.map((r) => ({ id: r.id, domain: r.domain, agentId: r.agent_id }));
}

/** At closing, what is still queued is carried over: first in line at the next opening. */
export async function carryOverQueued(db: Db, now: Date, limit = 5000): Promise<string[]> {
  const res = await sql<{ id: string }>`
    UPDATE callbacks SET carried_over = true, updated_at = ${now}
    WHERE id IN (SELECT id FROM callbacks WHERE status = 'queued' AND NOT carried_over LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING id`.execute(db);
  return res.rows.map((r) => r.id);
}

export interface OutcomeUpdate {
  status: 'completed' | 'failed' | 'scheduled';
  outcome: string;
  redirectedTo: string | null;
  dueAt: Date | null;
}

/**
 * Compare-and-set on (status, assigned informateur): an outcome is recorded once. The first
 * call of a slot booking also gives its window's place back, in the same statement: a place is
 * held only until the first call is made (as a cancel before it gives it back).
 */
export async function applyOutcome(
  db: Db,
  callbackId: string,
  agentId: string,
  u: OutcomeUpdate,
  now: Date,
): Promise<CallbackRecord | null> {
  const terminal = u.status !== 'scheduled';
  const res = await sql<Parameters<typeof toCallback>[0]>`
    WITH c AS (
      UPDATE callbacks c SET status = ${u.status}, outcome = ${u.outcome}, redirected_to = ${u.redirectedTo},
        attempts = c.attempts + 1, assigned_agent_id = NULL, assigned_at = NULL, lease_expires_at = NULL,
        due_at = COALESCE(${u.dueAt}::timestamptz, c.due_at), carried_over = false,
        ended_at = ${terminal ? now : null}, updated_at = ${now}
      WHERE c.id = ${callbackId} AND c.status = 'assigned' AND c.assigned_agent_id = ${agentId}
      RETURNING ${RETURNING}
    ), released AS (
      UPDATE window_load w SET booked = w.booked - 1 FROM c
      WHERE c.mode = 'slot' AND c.attempts = 1 AND w.domain = c.domain
        AND w.window_start = c.window_start AND w.booked > 0
    )
    SELECT * FROM c`.execute(db);
  const row = res.rows[0];
  return row ? toCallback(row) : null;
}

/** The informateur has just finished a call: idle from now (for "idle longest"). */
export async function markIdle(db: Db, agentId: string, now: Date): Promise<void> {
  await db
    .updateTable('agents')
    .set({ available_since: now, updated_at: now })
    .where('id', '=', agentId)
    .where('status', '=', 'available')
    .execute();
}

/** A deactivated informateur's desk goes back to the queue at once. */
export async function releaseDesk(
  db: Db,
  agentId: string,
  now: Date,
): Promise<{ id: string; domain: string }[]> {
  const res = await sql<{ id: string; domain: string }>`
    UPDATE callbacks SET status = 'queued', assigned_agent_id = NULL, assigned_at = NULL, lease_expires_at = NULL,
      queued_at = ${now}, updated_at = ${now}
    WHERE assigned_agent_id = ${agentId} AND status = 'assigned'
    RETURNING id, domain`.execute(db);
  return res.rows;
}
