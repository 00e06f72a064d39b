import { sql } from 'kysely';
import { PREPARED } from '../db/kysely.js';
import type { Db } from '../db/schema.js';
import type { CallbackStatus } from '../domain/callback-status.js';
import { CALLBACK_COLUMNS, toCallback, type CallbackRecord } from './callbacks.js';
import { agentIs, type AgentRef } from './agents.js';

/** An informateur's outcome of a call: the one statement that records it (the desk's other half). */

type CallbackRow = Parameters<typeof toCallback>[0];

const RETURNING = sql.join(CALLBACK_COLUMNS.map((c) => sql.ref(`c.${c}`)));

export interface OutcomeUpdate {
  status: 'completed' | 'failed' | 'scheduled';
  outcome: string;
  redirectedTo: string | null;
  dueAt: Date | null;
}

export interface OutcomeResult {
  /** The informateur, if active (and still holding the presented token). */
  agent: { id: string; domains: string[] } | null;
  /** The callback as it was (statement snapshot), if the reference exists. */
  prior: { status: CallbackStatus; assignedAgentId: string | null } | null;
  /** The callback after the outcome; null if the compare-and-set did not apply. */
  updated: CallbackRecord | null;
}

/**
 * An outcome in one statement: compare-and-set on (reference, status 'assigned', assigned to
 * this active informateur, and `expectAttempts` when the decision depended on it), the
 * 'outcome' event (`data`: the reported outcome and the attempt number, plus `extra`), and the
 * informateur idle from now (for "idle longest"). The first call of a slot booking also gives
 * its window's place back: a place is held only until the first call is made (as a cancel
 * before it gives it back). When nothing applied, `agent` and `prior` say why.
 */
export async function applyOutcome(
  db: Db,
  who: AgentRef,
  reference: string,
  u: OutcomeUpdate,
  event: { reported: string; extra: Record<string, unknown> },
  now: Date,
  expectAttempts?: number,
): Promise<OutcomeResult> {
  const terminal = u.status !== 'scheduled';
  const res = await sql<
    Partial<CallbackRow> & {
      agent_id: string | null;
      agent_domains: string[] | null;
      prior_status: CallbackStatus | null;
      prior_agent_id: string | null;
    }
  >`${PREPARED}
    WITH me AS (
      SELECT id, domains FROM agents WHERE ${agentIs(who)} AND active
    ), prior AS (
      SELECT id, status, assigned_agent_id FROM callbacks WHERE reference = ${reference}
    ), c AS (
      UPDATE callbacks c SET status = ${u.status}, outcome = ${u.outcome}, redirected_to = ${u.redirectedTo},
        attempts = c.attempts + 1, assigned_agent_id = NULL, assigned_at = NULL, lease_expires_at = NULL,
        due_at = COALESCE(${u.dueAt}::timestamptz, c.due_at), carried_over = false,
        ended_at = ${terminal ? now : null}, updated_at = ${now}
      FROM me
      WHERE c.id = (SELECT id FROM prior) AND c.status = 'assigned'
        AND c.assigned_agent_id = (SELECT id FROM me)
        ${expectAttempts === undefined ? sql`` : sql`AND c.attempts = ${expectAttempts}`}
      RETURNING ${RETURNING}
    ), released AS (
      UPDATE window_load w SET booked = w.booked - 1 FROM c
      WHERE c.mode = 'slot' AND c.attempts = 1 AND w.domain = c.domain
        AND w.window_start = c.window_start AND w.booked > 0
    ), outcome_event AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT c.id, 'outcome', 'assigned', c.status, 'agent:' || me.id, ${now},
        jsonb_build_object('outcome', ${event.reported}::text, 'attempt', c.attempts) || ${JSON.stringify(event.extra)}::jsonb
      FROM c, me
    ), idle AS (
      UPDATE agents a SET available_since = ${now}, freed_at = statement_timestamp(), updated_at = ${now}
      FROM me WHERE a.id = me.id AND a.status = 'available' AND EXISTS (SELECT 1 FROM c)
    )
    SELECT me.id AS agent_id, me.domains AS agent_domains, prior.status AS prior_status,
      prior.assigned_agent_id AS prior_agent_id, c.*
    FROM (SELECT 1) AS one LEFT JOIN me ON true LEFT JOIN prior ON true LEFT JOIN c ON true`.execute(db);
  const row = res.rows[0];
  return {
    agent: row?.agent_id ? { id: row.agent_id, domains: row.agent_domains ?? [] } : null,
    prior: row?.prior_status
      ? { status: row.prior_status, assignedAgentId: row.prior_agent_id ?? null }
      : null,
    updated: row?.id ? toCallback(row as CallbackRow) : null,
  };
}
