import { sql } from 'kysely';
import { hotStatement } from '../db/kysely.js';
import type { Db } from '../db/schema.js';
import { CALLBACK_COLUMNS, CALLBACK_COLUMNS_OF_C, toCallback, type CallbackRecord } from './callbacks.js';
import { agentKey, type AgentRef } from './agents.js';
import { DOMAIN_CODES } from '../domain/domains.js';

export type { AgentRef } from './agents.js';

type CallbackRow = Parameters<typeof toCallback>[0];

const COLUMNS = sql.join(CALLBACK_COLUMNS.map((c) => sql.ref(c)));

/**
 * Queued callbacks read per domain as claim candidates. They are read without locks, from the
 * statement's snapshot; only the one claimed is locked. Candidates another claimer holds
 * (SKIP LOCKED) or took since the snapshot are passed over, so this many per domain let that
 * many claimers of one domain run at once without one of them finding nothing (and if they all
 * were taken, the result says so: `contended`).
 */
export const CLAIM_CANDIDATES_PER_DOMAIN = 64;

interface PullOptions {
  /** Claim from these domains; null: the informateur's own. */
  domains: string[] | null;
  /** Pulling makes the informateur available (available_since moves only if they were not). */
  makeAvailable: boolean;
  /**
   * Claim nothing while an overdue scheduled callback of these domains is not queued yet (its
   * timer late or lost): the caller queues them, then pulls again, so the queue order holds.
   */
  overdueFirst: boolean;
}

type PullRow = Partial<CallbackRow> & {
  agent_id: string | null;
  agent_domains: string[] | null;
  fresh: boolean | null;
  contended: boolean;
  overdue: boolean;
};

interface PullValues extends Record<string, unknown> {
  agent: string | Buffer;
  now: Date;
  leaseUntil: Date;
  domains: string[] | null;
}

/**
 * The pull statement: for the informateur (active, designated by id or by token), returns what
 * is on their desk, or else locks their row and claims the next queued callback of the domains
 * (carried over first, then earliest due, then fewest attempts), writing its 'assigned' event.
 * Returning the desk, or finding nothing to claim, writes nothing (no lock, no commit to flush):
 * the CASEs take the lock only when there is a candidate to claim.
 *
 * Claim: the head candidates of each domain (unlocked) are joined back to callbacks in queue
 * order and only the first row that can be locked (FOR UPDATE OF c SKIP LOCKED, still queued)
 * is taken: no other domain's head stays locked, so concurrent claimers never wait on nor take
 * the same row, and none skips a row that is free.
 *
 * The desk is read from the statement's snapshot: if another claim for this informateur
 * committed while this one waited for the lock, the one-desk unique index refuses the second
 * (23505 callbacks_one_per_desk, nothing written) and the caller asks again.
 *
 * Compiled once per variant (`hotStatement`): `o` changes the text, `v` only its values.
 */
const pullStatement = hotStatement<PullOptions & { by: 'id' | 'token_hash' }, PullValues, PullRow>(
  (o) => `pull:${o.by}:${o.domains ? 'given' : 'own'}:${o.makeAvailable}:${o.overdueFirst}`,
  (o, v) => {
    const domains = o.domains ? sql`${v.domains}::text[]` : sql`(SELECT domains FROM me)::text[]`;
    return sql<PullRow>`
    WITH me AS (
      SELECT id, domains, status FROM agents WHERE ${sql.ref(o.by)} = ${v.agent} AND active
    ), ${
      o.makeAvailable
        ? sql`made_available AS (
      UPDATE agents a SET status = 'available', available_since = ${v.now}, updated_at = ${v.now}
      WHERE a.id = (SELECT id FROM me) AND a.active AND a.status <> 'available'
    ), `
        : sql``
    }desk AS (
      SELECT ${COLUMNS} FROM callbacks WHERE assigned_agent_id = (SELECT id FROM me) AND status = 'assigned'
    ), locked AS (
      SELECT id FROM agents WHERE id = (SELECT id FROM me) AND active${
        // A pull checks again, on the row as it is once locked (a change committed while this
        // waited), that its informateur did not go offline or pause meanwhile: they are given
        // nothing (it claimed for an informateur gone offline, whose desk then waited for the
        // lease). A pull by one who was not available makes them available (made_available).
        // claimNext (the benchmark's ceiling) leaves availability to its caller.
        o.makeAvailable ? sql` AND (status = 'available' OR (SELECT status FROM me) <> 'available')` : sql``
      } FOR NO KEY UPDATE
    ), overdue AS (
      SELECT ${
        o.overdueFirst
          ? sql`EXISTS (
          SELECT 1 FROM unnest(${domains}) AS d(domain)
          CROSS JOIN LATERAL (
            SELECT due_at FROM callbacks WHERE status = 'scheduled' AND domain = d.domain
            ORDER BY due_at LIMIT 1
          ) first_due
          WHERE first_due.due_at <= ${v.now})`
          : sql`false`
      } AS found
    ), cand AS (
      SELECT q.id, q.carried_over, q.due_at, q.attempts FROM unnest(${domains}) AS d(domain)
      CROSS JOIN LATERAL (
        SELECT id, carried_over, due_at, attempts FROM callbacks
        WHERE status = 'queued' AND domain = d.domain
        ORDER BY carried_over DESC, due_at, attempts, id
        LIMIT ${sql.lit(CLAIM_CANDIDATES_PER_DOMAIN)}
      ) q
      WHERE CASE WHEN EXISTS (SELECT 1 FROM desk) THEN false ELSE NOT (SELECT found FROM overdue) END
    ), pick AS (
      SELECT c.id FROM (SELECT * FROM cand ORDER BY carried_over DESC, due_at, attempts, id) s
      JOIN callbacks c ON c.id = s.id
      WHERE c.status = 'queued'
        AND CASE WHEN NOT EXISTS (SELECT 1 FROM cand) THEN false ELSE EXISTS (SELECT 1 FROM locked) END
      ORDER BY s.carried_over DESC, s.due_at, s.attempts, s.id
      LIMIT 1 FOR UPDATE OF c SKIP LOCKED
    ), claimed AS (
      UPDATE callbacks c SET status = 'assigned', assigned_agent_id = l.id, assigned_at = ${v.now},
        lease_expires_at = ${v.leaseUntil}, updated_at = ${v.now}
      FROM pick, locked l WHERE c.id = pick.id AND c.status = 'queued'
      RETURNING ${CALLBACK_COLUMNS_OF_C}
    ), claimed_event AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT id, 'assigned', 'queued', 'assigned', 'agent:' || assigned_agent_id, ${v.now}, '{"via":"pull"}'::jsonb
      FROM claimed
    ), result AS (
      SELECT true AS fresh, * FROM claimed
      UNION ALL
      SELECT false AS fresh, * FROM desk
    )
    SELECT me.id AS agent_id, me.domains AS agent_domains, r.*,
      CASE WHEN r.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM cand) THEN false
        ELSE EXISTS (SELECT 1 FROM locked) END AS contended,
      CASE WHEN r.id IS NOT NULL OR me.id IS NULL THEN false ELSE (SELECT found FROM overdue) END AS overdue
    FROM (SELECT 1) AS one LEFT JOIN me ON true LEFT JOIN result r ON true`;
  },
);

function pull(db: Db, who: AgentRef, now: Date, leaseUntil: Date, o: PullOptions) {
  const key = agentKey(who);
  return pullStatement(
    db,
    { ...o, by: key.column },
    { agent: key.value, now, leaseUntil, domains: o.domains },
  );
}

/**
 * - `callback` and `fresh`: claimed now (its 'assigned' event written), or already on the desk.
 * - `callback: null`: nothing claimed; `contended` says queued callbacks of these domains were
 *   there but all taken by concurrent claimers: asking again at once may find one.
 */
export type Claim = { callback: CallbackRecord; fresh: boolean } | { callback: null; contended: boolean };

function toClaim(row: PullRow | undefined): Claim {
  if (!row?.id) return { callback: null, contended: row?.contended ?? false };
  return { callback: toCallback(row as CallbackRow), fresh: row.fresh === true };
}

/**
 * Claims the next queued callback of the given domains for one active informateur, in one
 * statement (see pullStatement), or returns the one already on their desk.
 */
export async function claimNext(
  db: Db,
  agentId: string,
  domains: string[],
  now: Date,
  leaseUntil: Date,
): Promise<Claim> {
  const res = await pull(db, { agentId }, now, leaseUntil, {
    domains,
    makeAvailable: false,
    overdueFirst: false,
  });
  return toClaim(res.rows[0]);
}

export type PullResult =
  { agent: null } | ({ agent: { id: string; domains: string[] }; overdue: boolean } & Claim);

/**
 * Pull next, in one statement: the claim of `claimNext` over the informateur's own domains,
 * which also makes them available. With `overdueFirst`, nothing is claimed while an overdue
 * scheduled callback of their domains is not queued yet (`overdue`). `agent: null` for an
 * unknown or inactive informateur, or a token that is no longer theirs.
 */
export async function pullDesk(
  db: Db,
  who: AgentRef,
  now: Date,
  leaseUntil: Date,
  overdueFirst: boolean,
): Promise<PullResult> {
  const res = await pull(db, who, now, leaseUntil, {
    domains: null,
    makeAvailable: true,
    overdueFirst,
  });
  const row = res.rows[0];
  if (!row?.agent_id) return { agent: null };
  return {
    agent: { id: row.agent_id, domains: row.agent_domains ?? [] },
    overdue: row.overdue,
    ...toClaim(row),
  };
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

/**
 * What is still queued and was due before `dueBefore` is carried over: first in line at the next
 * opening, each with its 'carried_over' event, in one statement. At closing (`dueBefore` null)
 * that is everything queued; while open, what was due before the current opening began (left
 * over by a closing no sweep saw: the service was down). Per domain along the queue index
 * (domain, carried_over, due_at), at most `perDomain` each per call: the next sweep takes the
 * rest. Returns how many were carried over.
 */
export async function carryOverQueued(
  db: Db,
  now: Date,
  dueBefore: Date | null,
  perDomain = 1250,
): Promise<number> {
  const res = await sql<{ n: number }>`
    WITH carried AS (
      UPDATE callbacks SET carried_over = true, updated_at = ${now}
      WHERE id IN (
        SELECT q.id FROM unnest(${[...DOMAIN_CODES]}::text[]) AS d(domain)
        CROSS JOIN LATERAL (
          SELECT id FROM callbacks
          WHERE status = 'queued' AND domain = d.domain AND NOT carried_over
            ${dueBefore ? sql`AND due_at < ${dueBefore}` : sql``}
          LIMIT ${perDomain} FOR UPDATE SKIP LOCKED
        ) q)
      RETURNING id
    ), events AS (
      INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
      SELECT id, 'carried_over', 'queued', 'queued', 'system', ${now}, '{}'::jsonb FROM carried
    )
    SELECT count(*)::int AS n FROM carried`.execute(db);
  return res.rows[0]?.n ?? 0;
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
