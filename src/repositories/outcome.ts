import { sql } from 'kysely';
import { hotStatement } from '../db/kysely.js';
import type { Db } from '../db/schema.js';
import type { CallbackStatus } from '../domain/callback-status.js';
import { CALLBACK_COLUMNS_OF_C, toCallback, type CallbackRecord } from './callbacks.js';
import { agentKey, type AgentRef } from './agents.js';

/** An informateur's outcome of a call: the one statement that records it (the desk's other half). */

type CallbackRow = Parameters<typeof toCallback>[0];

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
  prior: { id: string; status: CallbackStatus; assignedAgentId: string | null } | null;
  /** The callback after the outcome; null if the compare-and-set did not apply. */
  updated: CallbackRecord | null;
}

type OutcomeRow = Partial<CallbackRow> & {
  agent_id: string | null;
  agent_domains: string[] | null;
  prior_id: string | null;
  prior_status: CallbackStatus | null;
  prior_agent_id: string | null;
};

interface OutcomeValues extends Record<string, unknown> {
  agent: string | Buffer;
  reference: string;
  status: OutcomeUpdate['status'];
  outcome: string;
  redirectedTo: string | null;
  dueAt: Date | null;
  endedAt: Date | null;
  now: Date;
  expectAttempts: number | undefined;
  reported: string;
  extra: string;
}

/** Compiled once per variant (`hotStatement`): who designates the informateur, and whether the attempts are checked. */
const outcomeStatement = hotStatement<
  { by: 'id' | 'token_hash'; checkAttempts: boolean },
  OutcomeValues,
  OutcomeRow
>(
  (o) => `outcome:${o.by}:${o.checkAttempts}`,
  (o, v) => sql<OutcomeRow>`
    WITH me AS (
      SELECT id, domains FROM agents WHERE ${sql.ref(o.by)} = ${v.agent} AND active
    ), prior AS (
      SELECT id, status, assigned_agent_id FROM callbacks WHERE reference = ${v.reference}
    ), c AS (
      UPDATE callbacks c SET status = ${v.status}, outcome = ${v.outcome}, redirected_to = ${v.redirectedTo},
        attempts = c.attempts + 1, assigned_agent_id = NULL, assigned_at = NULL, lease_expires_at = NULL,
        due_at = COALESCE(${v.dueAt}::timestamptz, c.due_at), carried_over = false,
        ended_at = ${v.endedAt}, updated_at = ${v.now}
      FROM me
      WHERE c.id = (SELECT id FROM prior) AND c.status = 'assigned'
        AND c.assigned_agent_id = (SELECT id FROM me)
        ${o.checkAttempts ? sql`AND c.attempts = ${v.expectAttempts}` : sql``}
      RETURNING ${CALLBACK_COLUMNS_OF_C}
    ), outcome_event AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT c.id, 'outcome', 'assigned', c.status, 'agent:' || me.id, ${v.now},
        jsonb_build_object('outcome', ${v.reported}::text, 'attempt', c.attempts) || ${v.extra}::jsonb
      FROM c, me
    ), idle AS (
      UPDATE agents a SET available_since = ${v.now}, freed_at = statement_timestamp(), updated_at = ${v.now}
      FROM me WHERE a.id = me.id AND a.status = 'available' AND EXISTS (SELECT 1 FROM c)
    )
    SELECT me.id AS agent_id, me.domains AS agent_domains, prior.id AS prior_id, prior.status AS prior_status,
      prior.assigned_agent_id AS prior_agent_id, c.*
    FROM (SELECT 1) AS one LEFT JOIN me ON true LEFT JOIN prior ON true LEFT JOIN c ON true`,
);

/**
 * An outcome in one statement: compare-and-set on (reference, status 'assigned', assigned to
 * this active informateur, and `expectAttempts` when the decision depended on it), the
 * 'outcome' event (`data`: the reported outcome and the attempt number, plus `extra`), and the
 * informateur idle from now (for "idle longest"). A call gives no window place back: the
 * window has started, and no booking can take a place in it any more. (It used to: every first
 * call decremented its window's row of window_load, a row all the informateurs calling that
 * window's callbacks wrote at once, with a NOTIFY whose lock queued their commits.) When
 * nothing applied, `agent` and `prior` say why.
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
  const key = agentKey(who);
  const res = await outcomeStatement(
    db,
    { by: key.column, checkAttempts: expectAttempts !== undefined },
    {
      agent: key.value,
      reference,
      status: u.status,
      outcome: u.outcome,
      redirectedTo: u.redirectedTo,
      dueAt: u.dueAt,
      endedAt: u.status !== 'scheduled' ? now : null,
      now,
      expectAttempts,
      reported: event.reported,
      extra: JSON.stringify(event.extra),
    },
  );
  const row = res.rows[0];
  return {
    agent: row?.agent_id ? { id: row.agent_id, domains: row.agent_domains ?? [] } : null,
    prior:
      row?.prior_id && row.prior_status
        ? { id: row.prior_id, status: row.prior_status, assignedAgentId: row.prior_agent_id ?? null }
        : null,
    updated: row?.id ? toCallback(row as CallbackRow) : null,
  };
}
