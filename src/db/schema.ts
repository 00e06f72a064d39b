import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface AgentsTable {
  id: string;
  display_name: string;
  domains: string[];
  active: Generated<boolean>;
  status: 'available' | 'paused' | 'offline';
  available_since: Timestamp | null;
  /** Database clock (not business time) of the last outcome that freed the desk (migrations/0006). */
  freed_at: Generated<Timestamp | null>;
  token_hash: Buffer;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ClosuresTable {
  id: string;
  date: string;
  start_time: string | null;
  end_time: string | null;
  reason: string;
  created_at: Timestamp;
}

export interface WindowLoadTable {
  domain: string;
  window_start: Timestamp;
  booked: number;
}

export interface CallbacksTable {
  id: string;
  reference: string;
  domain: string;
  mode: 'slot' | 'asap';
  status: 'scheduled' | 'queued' | 'assigned' | 'completed' | 'failed' | 'cancelled';
  phone: string | null;
  phone_region: string | null;
  fiche_id: string | null;
  subject: string | null;
  window_start: Timestamp;
  window_end: Timestamp;
  due_at: Timestamp;
  queued_at: Timestamp | null;
  attempts: Generated<number>;
  carried_over: Generated<boolean>;
  assigned_agent_id: string | null;
  assigned_at: Timestamp | null;
  lease_expires_at: Timestamp | null;
  outcome: string | null;
  redirected_to: string | null;
  cancel_token_hash: Buffer;
  created_at: Timestamp;
  updated_at: Timestamp;
  ended_at: Timestamp | null;
  anonymised_at: Timestamp | null;
}

export interface CallbackEventsTable {
  id: Generated<number>;
  callback_id: string;
  type: string;
  from_status: string | null;
  to_status: string | null;
  actor: string;
  at: Timestamp;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
}

export interface OutboxTable {
  id: Generated<number>;
  job_name: string;
  job_id: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  run_at: Timestamp;
  created_at: Timestamp;
  sent_at: Timestamp | null;
}

export interface IdempotencyKeysTable {
  key: string;
  request_hash: Buffer;
  response_status: number;
  response_body: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface RateLimitsTable {
  bucket: string;
  count: number;
  reset_at: Timestamp;
}

export interface DB {
  agents: AgentsTable;
  closures: ClosuresTable;
  window_load: WindowLoadTable;
  callbacks: CallbacksTable;
  callback_events: CallbackEventsTable;
  outbox: OutboxTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limits: RateLimitsTable;
}

/** What repositories take: the database, or the caller's transaction. */
export type Db = Kysely<DB> | Transaction<DB>;
