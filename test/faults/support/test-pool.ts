import pg from 'pg';

/**
 * The test's own connections to a database, named so that fault injections that terminate the
 * application's sessions spare them; errors of idle connections (server stopped) are ignored.
 */
export function testPool(connectionString: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 3, application_name: 'faults-test' });
  pool.on('error', () => undefined);
  return pool;
}
