import { connect, type AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALENDAR_LOCK } from '../src/repositories/closures.js';
import { booking } from './support/api.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';

/**
 * MAX_IN_FLIGHT_REQUESTS: past the cap an API process answers 503 at once (problem+json,
 * Retry-After) instead of queueing requests in memory; health checks still answer; the count
 * goes back down when requests end.
 */
describe('overload: in-flight request cap', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let holder: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { env: { MAX_IN_FLIGHT_REQUESTS: '2' } });
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
  });
  const address = () => `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  afterAll(async () => {
    await holder?.end();
    await t?.close();
    await db?.drop();
  });

  it('refuses the request past the cap with 503 SERVICE_UNAVAILABLE, then recovers', async () => {
    // Two bookings wait on the calendar lock (as behind a closure being written): two in flight.
    await holder.query('SELECT pg_advisory_lock($1)', [CALENDAR_LOCK]);
    const post = () => t.app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking() });
    const waiting = [post(), post()];
    await new Promise((r) => setTimeout(r, 300));

    const refused = await t.app.inject('/v1/domains');
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    expect((await t.app.inject('/healthz')).statusCode).toBe(200);
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);

    await holder.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
    for (const res of await Promise.all(waiting)) expect(res.statusCode).not.toBe(503);
    // Both finished: the count is back to zero, so two more can run at once.
    const again = await Promise.all([t.app.inject('/v1/domains'), t.app.inject('/v1/domains')]);
    expect(again.map((r) => r.statusCode)).toEqual([200, 200]);
  });

  it('counts down requests whose client went away, on a real socket', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    await holder.query('SELECT pg_advisory_lock($1)', [CALENDAR_LOCK]);
    const aborts = [new AbortController(), new AbortController()];
    const gone = aborts.map((a) =>
      fetch(`${address}/v1/callbacks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(booking()),
        signal: a.signal,
      }).catch(() => null),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await fetch(`${address}/v1/domains`)).status).toBe(503);
    for (const a of aborts) a.abort();
    await Promise.all(gone);
    await holder.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
    await new Promise((r) => setTimeout(r, 500));
    const again = await Promise.all([fetch(`${address}/v1/domains`), fetch(`${address}/v1/domains`)]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
  });

  it('does not count requests whose body is still arriving', async () => {
    // An outside review held every place with bodies sent a byte at a time: the API answered
    // 503 to everyone for as long as they trickled.
    const port = (t.app.server.address() as AddressInfo).port;
    const slow = Array.from({ length: 4 }, () => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          'POST /v1/callbacks/RAP-ABCDEF/cancel HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
        ),
      );
      socket.on('error', () => undefined);
      return socket;
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const served = await Promise.all([fetch(`${address()}/v1/domains`), fetch(`${address()}/v1/domains`)]);
      expect(served.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      for (const s of slow) s.destroy();
    }
  });
});
