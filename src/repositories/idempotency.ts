import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/**
 * Tries to take the key's transaction-scoped advisory lock: false while another request with
 * the same key is running. Released by the database at commit or rollback, crash included.
 */
export async function tryLockKey(db: Db, keyHash: Buffer): Promise<boolean> {
  const lockId = keyHash.readBigInt64BE(0);
  const res = await sql<{
    locked: boolean;
  }>`SELECT pg_try_advisory_xact_lock(${lockId.toString()}::bigint) AS locked`.execute(db);
  return res.rows[0]?.locked === true;
}

export interface StoredResponse {
  requestHash: Buffer;
  status: number;
  body: unknown;
}

export async function findLiveKey(db: Db, key: string, now: Date): Promise<StoredResponse | null> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('key', '=', key)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row ? { requestHash: row.request_hash, status: row.response_status, body: row.response_body } : null;
}

export async function storeKey(
  db: Db,
  key: string,
  requestHash: Buffer,
  status: number,
  body: unknown,
  now: Date,
  expiresAt: Date,
) {
  await db
    .insertInto('idempotency_keys')
    .values({
      key,
      request_hash: requestHash,
      response_status: status,
      response_body: JSON.stringify(body),
      created_at: now,
      expires_at: expiresAt,
    })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        request_hash: requestHash,
        response_status: status,
        response_body: JSON.stringify(body),
        created_at: now,
        expires_at: expiresAt,
      }),
    )
    .execute();
}

export async function purgeExpiredKeys(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
