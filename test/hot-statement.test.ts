import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, hotStatement } from '../src/db/kysely.js';
import { TEST_PG_ADMIN_URL } from './support/env.js';

/**
 * hotStatement compiles a statement once per variant and then only fills in the values: each
 * call must still see its own values, a variant its own text, and a value that would be frozen
 * into the first compilation must be refused.
 */
describe('hotStatement', () => {
  const db = createKysely(new pg.Pool({ connectionString: TEST_PG_ADMIN_URL, max: 1 }));
  afterAll(() => db.destroy());

  let builds = 0;
  const echo = hotStatement<{ doubled: boolean }, { n: number; label: string; at: Date }, { r: string }>(
    (o) => `echo:${o.doubled}`,
    (o, v) => {
      builds++;
      return sql<{
        r: string;
      }>`SELECT ${v.label}::text || ':' || (${o.doubled ? sql`2 * ` : sql``}${v.n}::int)
        || ':' || to_char(${v.at}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ':' || ${v.label}::text AS r`;
    },
  );

  beforeAll(() => {
    builds = 0;
  });

  it('gives each call its own values, compiling each variant once', async () => {
    const run = async (doubled: boolean, n: number, label: string, at: string) =>
      (await echo(db, { doubled }, { n, label, at: new Date(at) })).rows[0]!.r;
    expect(await run(false, 1, 'a', '2026-03-29T12:00:00Z')).toBe('a:1:2026-03-29:a');
    expect(await run(false, 7, 'b', '2026-10-25T12:00:00Z')).toBe('b:7:2026-10-25:b');
    expect(await run(true, 7, 'c', '2027-01-01T00:00:00Z')).toBe('c:14:2027-01-01:c');
    expect(await run(false, 3, 'd', '2026-01-01T00:00:00Z')).toBe('d:3:2026-01-01:d');
    expect(builds).toBe(2);
  });

  it('is sent as a named prepared statement', async () => {
    const prepared = await db.connection().execute(async (c) => {
      await echo(c, { doubled: true }, { n: 1, label: 'x', at: new Date() });
      return (
        await sql<{ name: string }>`SELECT name FROM pg_prepared_statements
          WHERE statement LIKE '/* prepared */%' AND statement LIKE '%2 * $2::int%'`.execute(c)
      ).rows;
    });
    expect(prepared).toHaveLength(1);
    expect(prepared[0]!.name).toMatch(/^rappel_/);
  });

  it('refuses a placeholder turned into a string or a number while compiling', async () => {
    const stringified = hotStatement<null, { n: number }, { r: string }>(
      () => 'stringified',
      (_o, v) => sql<{ r: string }>`SELECT ${sql.lit(`${v.n}`)} AS r`,
    );
    await expect(stringified(db, null, { n: 1 })).rejects.toThrow(/"n" used while compiling/);
    const computed = hotStatement<null, { n: number }, { r: number }>(
      () => 'computed',
      (_o, v) => sql<{ r: number }>`SELECT ${sql.lit(v.n + 1)} AS r`,
    );
    await expect(computed(db, null, { n: 1 })).rejects.toThrow(/"n" used while compiling/);
  });

  it('refuses a value that does not come from its placeholders', async () => {
    const frozen = hotStatement<null, { n: number }, { r: number }>(
      () => 'frozen',
      (_o, v) => sql<{ r: number }>`SELECT ${v.n}::int + ${Date.now() % 7}::int AS r`, // computed by build: frozen
    );
    await expect(frozen(db, null, { n: 1 })).rejects.toThrow(/parameter \$2 is not one of its values/);
  });
});
