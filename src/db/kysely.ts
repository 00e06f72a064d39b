import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { DB } from './schema.js';

const MARK = '/* prepared */';

/**
 * Put first in the text of a hot statement (`sql\`${PREPARED}WITH ...\``): it is then sent as a
 * named prepared statement, parsed and planned once per connection instead of at every call.
 * For the desk's statements, planning costs more than executing. Only for statements whose
 * text does not vary with their values (a variant is another statement).
 */
export const PREPARED = sql.raw(`${MARK} `);

/** The pool as Kysely sees it: marked statements go out as named prepared statements. */
function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `rappel_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      names.set(text, name);
    }
    return name;
  };
  return {
    async connect() {
      const client = await pool.connect();
      const wrapped = {
        query: (text: unknown, parameters?: readonly unknown[]) =>
          typeof text === 'string' && text.startsWith(MARK)
            ? client.query({ name: nameOf(text), text, values: [...(parameters ?? [])] })
            : (client.query as (...args: unknown[]) => unknown)(text, parameters),
        release: (destroy?: boolean) => client.release(destroy),
      };
      return wrapped as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

export function createKysely(pool: pg.Pool): Kysely<DB> {
  // Anything else than a real pool (a test or bench double) is used as it is.
  const dialectPool = pool instanceof pg.Pool ? preparingPool(pool) : pool;
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: dialectPool }) });
}
