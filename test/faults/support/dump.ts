import type pg from 'pg';
import { Redis } from 'ioredis';

/** Every value stored under the stack's BullMQ prefix and the rate limiter's keys, as text. */
export async function dumpRedis(url: string, patterns: string[]): Promise<string> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  const out: string[] = [];
  try {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await r.type(key);
          let value: unknown;
          if (type === 'string') value = await r.get(key);
          else if (type === 'hash') value = await r.hgetall(key);
          else if (type === 'list') value = await r.lrange(key, 0, -1);
          else if (type === 'set') value = await r.smembers(key);
          else if (type === 'zset') value = await r.zrange(key, 0, -1, 'WITHSCORES');
          else if (type === 'stream') value = await r.xrange(key, '-', '+');
          out.push(`${key} ${JSON.stringify(value)}`);
        }
      } while (cursor !== '0');
    }
  } finally {
    r.disconnect();
  }
  return out.join('\n');
}

export const BULLMQ_TABLES = ['bullmq.job', 'bullmq.event', 'bullmq.scheduler', 'bullmq.job_log'];

/** Every row of these tables (BullMQ's PostgreSQL schema, the outbox), as text. */
export async function dumpTables(sql: pg.Pool, tables: string[]): Promise<string> {
  const out: string[] = [];
  for (const table of tables) {
    const { rows } = await sql.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${table} t`);
    out.push(...rows.map((r) => `${table} ${r.row}`));
  }
  return out.join('\n');
}

/** A French number in any writing: its nine national digits, whatever separates them. */
export function phonePattern(nationalDigits: string): RegExp {
  return new RegExp(nationalDigits.split('').join('[\\s.\\-/()]*'));
}
