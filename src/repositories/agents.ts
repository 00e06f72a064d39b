import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/** Active informateurs covering a domain: the staffing that gives each window its capacity. */
export async function countActiveInDomain(db: Db, domain: string): Promise<number> {
  const row = await db
    .selectFrom('agents')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('active', '=', true)
    .where(sql<boolean>`domains @> ARRAY[${domain}]::text[]`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Who can take a domain's calls now, for the asap estimate (src/domain/asap.ts). */
export interface AsapStaffing {
  /** The domain's available informateurs. */
  informateurs: number;
  /** Every domain of those informateurs (the domain itself included when any). */
  poolDomains: string[];
  /** Available informateurs of any of those domains. */
  poolInformateurs: number;
}

/** The available (logged in, taking calls) informateurs of a domain, and the pool they share. */
export async function availableStaffing(db: Db, domain: string): Promise<AsapStaffing> {
  const res = await sql<{ n: number; pool_domains: string[] | null; pool_n: number }>`
    WITH mine AS (
      SELECT domains FROM agents
      WHERE active AND status = 'available' AND domains @> ARRAY[${domain}]::text[]
    ), pool AS (SELECT DISTINCT unnest(domains) AS d FROM mine)
    SELECT (SELECT count(*) FROM mine)::int AS n,
           (SELECT array_agg(d ORDER BY d) FROM pool) AS pool_domains,
           (SELECT count(*) FROM agents
             WHERE active AND status = 'available' AND domains && (SELECT coalesce(array_agg(d), '{}') FROM pool))::int AS pool_n`.execute(
    db,
  );
  const row = res.rows[0];
  return {
    informateurs: row?.n ?? 0,
    poolDomains: row?.pool_domains ?? [],
    poolInformateurs: row?.pool_n ?? 0,
  };
}

export interface AgentRecord {
  id: string;
  displayName: string;
  domains: string[];
  active: boolean;
  status: 'available' | 'paused' | 'offline';
  availableSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const AGENT_COLUMNS = [
  'id',
  'display_name',
  'domains',
  'active',
  'status',
  'available_since',
  'created_at',
  'updated_at',
] as const;

function toAgent(r: {
  id: string;
  display_name: string;
  domains: string[];
  active: boolean;
  status: 'available' | 'paused' | 'offline';
  available_since: Date | null;
  created_at: Date;
  updated_at: Date;
}): AgentRecord {
  return {
    id: r.id,
    displayName: r.display_name,
    domains: r.domains,
    active: r.active,
    status: r.status,
    availableSince: r.available_since,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function insertAgent(
  db: Db,
  a: { id: string; displayName: string; domains: string[]; tokenHash: Buffer; now: Date },
): Promise<AgentRecord> {
  const row = await db
    .insertInto('agents')
    .values({
      id: a.id,
      display_name: a.displayName,
      domains: a.domains,
      status: 'offline',
      token_hash: a.tokenHash,
      created_at: a.now,
      updated_at: a.now,
    })
    .returning(AGENT_COLUMNS)
    .executeTakeFirstOrThrow();
  return toAgent(row);
}

export async function listAgents(db: Db): Promise<AgentRecord[]> {
  const rows = await db
    .selectFrom('agents')
    .select(AGENT_COLUMNS)
    .orderBy('display_name')
    .orderBy('id')
    .execute();
  return rows.map(toAgent);
}

export async function findAgent(db: Db, id: string): Promise<AgentRecord | null> {
  const row = await db.selectFrom('agents').select(AGENT_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row ? toAgent(row) : null;
}

/**
 * Who acts at the desk: an informateur by id (jobs, tests), or by the hash of the bearer token
 * they presented. The desk statements check it themselves, with `active`, so a deactivation or
 * a token rotation is refused at once, without a lookup of its own.
 */
export type AgentRef = { agentId: string } | { tokenHash: Buffer };

/** The column of `agents` that `who` designates the informateur by, and its value. */
export const agentKey = (who: AgentRef): { column: 'id' | 'token_hash'; value: string | Buffer } =>
  'agentId' in who ? { column: 'id', value: who.agentId } : { column: 'token_hash', value: who.tokenHash };

export async function findActiveAgentByTokenHash(db: Db, tokenHash: Buffer): Promise<AgentRecord | null> {
  const row = await db
    .selectFrom('agents')
    .select(AGENT_COLUMNS)
    .where('token_hash', '=', tokenHash)
    .where('active', '=', true)
    .executeTakeFirst();
  return row ? toAgent(row) : null;
}

export async function updateAgent(
  db: Db,
  id: string,
  patch: { displayName?: string; domains?: string[]; active?: boolean; tokenHash?: Buffer },
  now: Date,
): Promise<AgentRecord | null> {
  const row = await db
    .updateTable('agents')
    .set({
      ...(patch.displayName !== undefined ? { display_name: patch.displayName } : {}),
      ...(patch.domains !== undefined ? { domains: patch.domains } : {}),
      ...(patch.active !== undefined ? { active: patch.active } : {}),
      ...(patch.active === false ? { status: 'offline' as const, available_since: null } : {}),
      ...(patch.tokenHash !== undefined ? { token_hash: patch.tokenHash } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .returning(AGENT_COLUMNS)
    .executeTakeFirst();
  return row ? toAgent(row) : null;
}

/** available_since moves only when the agent becomes available: "idle longest" reads it. */
export async function setAgentStatus(
  db: Db,
  id: string,
  status: AgentRecord['status'],
  now: Date,
): Promise<AgentRecord | null> {
  const row = await db
    .updateTable('agents')
    .set({
      status,
      available_since:
        status === 'available'
          ? sql<Date>`CASE WHEN status = 'available' THEN available_since ELSE ${now}::timestamptz END`
          : null,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('active', '=', true)
    .returning(AGENT_COLUMNS)
    .executeTakeFirst();
  return row ? toAgent(row) : null;
}
