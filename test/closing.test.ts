import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALENDAR_LOCK } from '../src/repositories/closures.js';
import { booking, createAgent } from './support/api.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';

/**
 * While an API process stops (SIGTERM: app.close()), the requests in flight finish, their answers
 * close their connections (Connection: close: the client opens a new one rather than meet a
 * closed one), and a request that still reaches the application gets the contract's 503:
 * problem+json with a code and Retry-After (fastify's own was {"error":"Service Unavailable",…}
 * in plain JSON).
 */
describe('a request arriving while the API stops', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let holder: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { now: '2026-11-23T08:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await t?.close().catch(() => undefined);
    await db?.drop();
  });

  /** A booking held in flight by the calendar lock, on a raw keep-alive connection. */
  const bookingInFlight = async (address: string, slotStart: string) => {
    await holder.query('SELECT pg_advisory_lock($1)', [CALENDAR_LOCK]);
    const socket = connect(Number(new URL(address).port), '127.0.0.1');
    const conn = { socket, received: '', ended: new Promise((resolve) => socket.on('close', resolve)) };
    socket.on('data', (chunk: Buffer) => (conn.received += chunk.toString('utf8')));
    const body = JSON.stringify(booking({ slotStart }));
    socket.write(
      `POST /v1/callbacks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    return conn;
  };

  it('gets 503 SERVICE_UNAVAILABLE as problem+json, and the request in flight finishes', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const conn = await bookingInFlight(address, '2026-11-23T09:00:00+01:00');
    // A request whose headers are still arriving when the stop begins (its connection is not idle).
    const late = connect(Number(new URL(address).port), '127.0.0.1');
    let lateReceived = '';
    late.on('data', (chunk: Buffer) => (lateReceived += chunk.toString('utf8')));
    const lateEnded = new Promise((resolve) => late.on('close', resolve));
    late.write('GET /v1/domains HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => setTimeout(r, 100));

    const closed = t.app.close();
    await new Promise((r) => setTimeout(r, 100));
    late.write('\r\n'); // the request is complete while the API closes
    // Pipelined behind the booking, on the same connection: the booking's answer closes it.
    conn.socket.write('GET /v1/domains HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    await holder.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
    await closed;
    await Promise.all([conn.ended, lateEnded]);

    const [head, json] = lateReceived.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    expect(head).toMatch(/retry-after: 1/i);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(json!)).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    const responses = conn.received.split(/(?=HTTP\/1\.1 )/);
    expect(responses, conn.received).toHaveLength(1);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 201 /);
    expect(responses[0]!.split('\r\n\r\n')[0]).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('closes the connection of a request answered during the stop, which does not wait for the client', async () => {
    const app = await startTestApp(db.url, 'postgres', { now: '2026-11-23T08:00:00+01:00' });
    try {
      const conn = await bookingInFlight(
        await app.app.listen({ port: 0, host: '127.0.0.1' }),
        '2026-11-23T09:30:00+01:00',
      );
      const closed = app.app.close();
      await new Promise((r) => setTimeout(r, 100));
      await holder.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
      // The client keeps its connection: the server must end it once the answer is sent.
      const outcome = await Promise.race([
        closed.then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('still waiting on the connection'), 3_000)),
      ]);
      expect(outcome).toBe('closed');
      await conn.ended;
      expect(conn.received).toMatch(/^HTTP\/1\.1 201 /);
      // The answer itself says so: the client does not send another request on it.
      expect(conn.received.split('\r\n\r\n')[0]).toMatch(/\r\nconnection: close\r\n/i);
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});
