import type { Db } from '../db/schema.js';

export interface StoredResponse {
  requestHash: Buffer;
  status: number;
  body: unknown;
}

/** `key`: the Idempotency-Key as stored (services/idempotency-seal.ts storedKey). */
export async function findLiveKey(db: Db, key: string, now: Date): Promise<StoredResponse | null> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('key', '=', key)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row ? { requestHash: row.request_hash, status: row.response_status, body: row.response_body } : null;
}

export async function purgeExpiredKeys(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
