import { createHash } from 'node:crypto';
import {
  Kysely,
  PostgresDialect,
  RawNode,
  sql,
  type CompiledQuery,
  type PostgresPool,
  type PostgresPoolClient,
  type QueryResult,
  type RawBuilder,
} from 'kysely';
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

/**
 * Stands for one of a hot statement's values while it is compiled (see `hotStatement`). Turned
 * into a string or a number (stringified, compared, computed with), it throws: the statement
 * would otherwise keep what it gave the first time. A truthiness test cannot be caught.
 */
class Slot {
  constructor(readonly name: string) {}
  [Symbol.toPrimitive](): never {
    throw new Error(`hot statement value "${this.name}" used while compiling: interpolate it, nothing else`);
  }
  toJSON(): never {
    return this[Symbol.toPrimitive]();
  }
}

/**
 * A hot statement compiled once per variant instead of at every call: Kysely rebuilt and
 * compiled the pull statement at each call (18 µs measured alone), and its prepared name was
 * looked up by hashing a new 3 kB text. `build(variant, values)` writes the statement as usual;
 * it is called once per `variantKey(variant)`, with a placeholder for each value, and each call
 * then only puts its values in their places. It is sent as a named prepared statement
 * (`PREPARED`). The variant is what changes the text (a clause written or not); `values` must
 * only be interpolated, `${values.x}`: tested or transformed, a placeholder would freeze its
 * first answer into the statement. Refused when compiled: a placeholder turned into a string or
 * a number, and a parameter that is not one of the placeholders (a value `build` computed
 * itself, or a key the first call's `values` lacked). A truthiness test on a placeholder
 * (`values.x ? … : …`) cannot be caught: branch on the variant only.
 */
export function hotStatement<V, A extends Record<string, unknown>, R>(
  variantKey: (variant: V) => string,
  build: (variant: V, values: A) => RawBuilder<R>,
): (db: Kysely<DB>, variant: V, values: A) => Promise<QueryResult<R>> {
  // Per statement and variant, not per Kysely instance: every instance here is the same
  // PostgreSQL dialect without plugins (createKysely), so the text is the same for all.
  const compiled = new Map<string, { text: string; node: RawNode; names: string[] }>();
  const queryId = { queryId: 'hot-statement' }; // used by result plugins only: there are none
  return async (db, variant, values) => {
    const key = variantKey(variant);
    let c = compiled.get(key);
    if (c === undefined) {
      const slots = Object.fromEntries(Object.keys(values).map((k) => [k, new Slot(k)])) as unknown as A;
      const q = sql<R>`${PREPARED}${build(variant, slots)}`.compile(db);
      const names = q.parameters.map((p, i) => {
        if (!(p instanceof Slot))
          throw new Error(`hot statement ${key}: parameter $${i + 1} is not one of its values`);
        return p.name;
      });
      c = { text: q.sql, node: RawNode.createWithSql(q.sql), names };
      compiled.set(key, c);
    }
    const query: CompiledQuery<R> = {
      sql: c.text,
      query: c.node,
      parameters: c.names.map((n) => values[n]),
      queryId,
    };
    return db.executeQuery(query);
  };
}

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
