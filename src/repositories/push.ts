import { sql } from 'kysely';
import { PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';

/** Push dispatch: the worker's side of putting callbacks on desks (pull next is in dispatch.ts). */

/**
 * An informateur whose outcome has just freed their desk usually asks for the next callback at
 * once: push dispatch leaves them this long (database clock) to do it. Pushing at that instant
 * raced their own pull, which then only read back what the push had written: with 100
 * informateurs looping, pushes made 8 % of the assignments on a fresh queue and up to 40 % on
 * one already pulled from, each a second statement and commit for one claim. Informateurs who
 * wait are pushed to once it has passed.
 */
export const PUSH_GRACE_MS = 300;

const GRACE = sql.raw(`interval '${PUSH_GRACE_MS} milliseconds'`);

/** The informateur of the agents row aliased `agent` in the statement has a callback on their desk. */
export const onCall = (agent: string) =>
  sql`EXISTS (SELECT 1 FROM callbacks held WHERE held.assigned_agent_id = ${sql.ref(`${agent}.id`)} AND held.status = 'assigned')`;

/**
 * Informateur `a` could take a callback of `domain` now: active, available, of the domain, with
 * an empty desk. Kept on the row itself (not a CTE) where it is locked, so that a row changed
 * since the statement's snapshot is judged again on its latest version.
 */
const freeDesk = (domain: string) => sql`a.active AND a.status = 'available'
  AND a.domains @> ARRAY[${domain}]::text[] AND NOT ${onCall('a')}`;

export type PushResult =
  | { assigned: { callbackId: string; agentId: string; dueAt: Date } }
  /** Nothing assigned; `graceEndsInMs`: an informateur left their grace would be free by then. */
  | { assigned: null; graceEndsInMs: number | null };

/**
 * Push dispatch for one domain, in one statement: the informateur of the domain who is
 * available, has an empty desk, is past their grace (PUSH_GRACE_MS) and has been idle longest
 * gets the head of the domain's queue, and the 'assigned' event is written with it.
 *
 * Each lock is taken only when it can lead to an assignment: an informateur only while
 * something is queued, the head only once an informateur is locked. A row lock is written to
 * the WAL and makes the statement commit and wait for the flush; and a head locked for nothing
 * is a head every concurrent pull skips (a run that found nobody free locked it each time).
 */
export async function assignHeadToIdlest(
  db: Db,
  domain: string,
  now: Date,
  leaseMinutes: number,
): Promise<PushResult> {
  const res = await sql<{
    callback_id: string | null;
    agent_id: string | null;
    due_at: Date | null;
    grace_ends_in_ms: number | null;
  }>`${PREPARED}
    WITH queued AS (
      SELECT (SELECT true FROM callbacks q WHERE q.status = 'queued' AND q.domain = ${domain}
        ORDER BY q.carried_over DESC, q.due_at, q.attempts, q.id LIMIT 1) AS found
    ), agent AS (
      SELECT a.id FROM agents a
      WHERE ${freeDesk(domain)}
        AND (a.freed_at IS NULL OR a.freed_at <= statement_timestamp() - ${GRACE})
        AND (SELECT found FROM queued)
      ORDER BY a.available_since NULLS FIRST, a.id
      LIMIT 1 FOR UPDATE SKIP LOCKED
    ), head AS (
      SELECT id FROM callbacks WHERE status = 'queued' AND domain = ${domain} AND EXISTS (SELECT 1 FROM agent)
      ORDER BY carried_over DESC, due_at, attempts, id
      LIMIT 1 FOR UPDATE SKIP LOCKED
    ), assigned AS (
      UPDATE callbacks c SET status = 'assigned', assigned_agent_id = agent.id, assigned_at = ${now},
        lease_expires_at = ${now}::timestamptz + make_interval(mins => ${leaseMinutes}), updated_at = ${now}
      FROM agent, head WHERE c.id = head.id AND c.status = 'queued'
      RETURNING c.id AS callback_id, agent.id AS agent_id, c.due_at
    ), assigned_event AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT callback_id, 'assigned', 'queued', 'assigned', 'agent:' || agent_id, ${now}, '{"via":"dispatch"}'::jsonb
      FROM assigned
    )
    SELECT s.callback_id, s.agent_id, s.due_at,
      CASE WHEN s.callback_id IS NULL AND (SELECT found FROM queued) THEN (
        SELECT ceil(extract(epoch FROM min(a.freed_at) + ${GRACE} - statement_timestamp()) * 1000)::int
        FROM agents a
        WHERE ${freeDesk(domain)} AND a.freed_at > statement_timestamp() - ${GRACE}
      ) END AS grace_ends_in_ms
    FROM (SELECT 1) AS one LEFT JOIN assigned s ON true`.execute(db);
  const row = res.rows[0];
  if (row?.callback_id && row.agent_id && row.due_at)
    return { assigned: { callbackId: row.callback_id, agentId: row.agent_id, dueAt: row.due_at } };
  return { assigned: null, graceEndsInMs: row?.grace_ends_in_ms ?? null };
}
