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
