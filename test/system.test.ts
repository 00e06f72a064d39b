import { connect, type AddressInfo, type Socket } from 'node:net';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { booking, createAgent, ops } from './support/api.js';

describe.each(BACKENDS)('system routes on the %s queue backend', (backend) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, backend);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('is alive and ready when the database and the queue answer', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', queue: 'ok' } });
  });

  it('serves the OpenAPI document and Swagger UI', async () => {
    const doc = await t.app.inject('/openapi.json');
    expect(doc.statusCode).toBe(200);
    expect(doc.json().openapi).toBe('3.1.0');
    expect(Object.keys(doc.json().paths)).toContain('/v1/slots');
    // Error responses are documented with the media type they are sent with.
    const created = doc.json().paths['/v1/callbacks'].post.responses;
    expect(Object.keys(created['201'].content)).toEqual(['application/json']);
    expect(Object.keys(created['409'].content)).toEqual(['application/problem+json']);
    // Each error answer names the contract's codes it may carry; waits are declared.
    const codes = (status: string) =>
      [...(created[status].description as string).matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]);
    expect(codes('409')).toEqual([
      'SLOT_FULL',
      'ASAP_UNAVAILABLE',
      'DUPLICATE_REQUEST',
      'IDEMPOTENCY_KEY_IN_USE',
    ]);
    expect(codes('422')).toEqual([
      'INVALID_PHONE',
      'CENTRE_CLOSED',
      'OUTSIDE_OPENING_HOURS',
      'SLOT_NOT_AVAILABLE',
      'IDEMPOTENCY_KEY_REUSED',
    ]);
    expect(Object.keys(created['429'].headers)).toEqual(['retry-after']);
    expect(Object.keys(created['503'].headers)).toEqual(['retry-after']);
    expect(doc.json().components.schemas.Problem.properties.code.enum).toContain('CLOSURE_HAS_BOOKINGS');
    const ui = await t.app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    // The page ops paste their token into is never framed by another site.
    // So are the pages and files it serves from its own folder.
    for (const page of [ui, await t.app.inject('/docs/static/oauth2-redirect.html')]) {
      expect(page.statusCode).toBe(200);
      expect(page.headers).toMatchObject({
        'content-security-policy': "frame-ancestors 'none'",
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
      });
    }
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const res = await t.app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Introuvable' });
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('answers schema failures with VALIDATION_ERROR', async () => {
    const res = await t.app.inject('/v1/opening-hours?days=abc');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
  });

  it('refuses U+0000 in any text with VALIDATION_ERROR, where PostgreSQL would have failed', async () => {
    const agent = await createAgent(t.app, ['travail']);
    const attempts: InjectOptions[] = [
      { method: 'POST', url: '/v1/callbacks', payload: booking({ subject: 'a\u0000b' }) },
      {
        method: 'POST',
        url: '/v1/closures',
        headers: ops,
        payload: { date: '2026-12-01', reason: 'a\u0000b' },
      },
      {
        method: 'POST',
        url: '/v1/agents',
        headers: ops,
        payload: { displayName: 'a\u0000b', domains: ['travail'] },
      },
      { method: 'PATCH', url: `/v1/agents/${agent.id}`, headers: ops, payload: { displayName: 'x\u0000' } },
      { method: 'GET', url: '/v1/callbacks?cursor=a%00', headers: ops },
    ];
    for (const a of attempts) {
      const res = await t.app.inject(a);
      expect(res.statusCode, `${a.method} ${a.url}: ${res.body}`).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe('VALIDATION_ERROR');
      expect(res.json().detail).toContain('U+0000');
    }
    // Looked for before the schema, in JSON nested deeper than a recursive walk could go.
    const deep = '['.repeat(7000) + ']'.repeat(7000);
    const nested = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      headers: { 'content-type': 'application/json' },
      payload: `{"domain":"travail","x":${deep}}`,
    });
    expect(nested.statusCode, nested.body).toBe(400);
  });

  it('checks ids and cursors before PostgreSQL reads them: 404 and 400, never 500', async () => {
    const zeros = `${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`;
    // 36 characters of hex digits and dashes, which a looser check let through to the uuid cast.
    for (const id of ['a'.repeat(36), '-'.repeat(36), `${'0'.repeat(34)}-0`]) {
      for (const [method, url] of [
        ['DELETE', `/v1/closures/${id}`],
        ['PATCH', `/v1/agents/${id}`],
      ] as const) {
        const res = await t.app.inject({
          method,
          url,
          headers: ops,
          payload: method === 'PATCH' ? { displayName: 'x' } : undefined,
        });
        expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(404);
        expect(res.json().code).toBe('NOT_FOUND');
      }
    }
    for (const raw of [
      `2026-11-23T08:00:00.000Z|${'a'.repeat(36)}`,
      `-271821-04-20T00:00:00.000Z|${zeros}`, // a date JavaScript reads and timestamptz does not
      `+275760-09-13T00:00:00.000Z|${zeros}`,
    ]) {
      const cursor = Buffer.from(raw).toString('base64url');
      const res = await t.app.inject({ url: `/v1/callbacks?cursor=${cursor}`, headers: ops });
      expect(res.statusCode, `${raw}: ${res.body}`).toBe(400);
      expect(res.json().code).toBe('VALIDATION_ERROR');
    }
    // A cursor of this service's own making still pages.
    const own = Buffer.from(`2026-11-23T08:00:00.000Z|${zeros}`).toString('base64url');
    expect((await t.app.inject({ url: `/v1/callbacks?cursor=${own}`, headers: ops })).statusCode).toBe(200);
  });

  it('answers the ops token on an informateur route with 403, and a malformed token with 401', async () => {
    for (const [method, url] of [
      ['POST', '/v1/agents/me/next'],
      ['PUT', '/v1/agents/me/status'],
      ['POST', '/v1/callbacks/RAP-AAAAAA/outcome'],
    ] as const) {
      const payload = url.endsWith('status') ? { status: 'available' } : { outcome: 'reached' };
      const res = await t.app.inject({ method, url, headers: ops, payload });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
      const basic = await t.app.inject({ method, url, headers: { authorization: 'Basic abc' }, payload });
      expect(basic.statusCode).toBe(401);
      expect(basic.json().detail).toContain('mal formé');
      expect(basic.headers['www-authenticate']).toBe('Bearer realm="rappel"');
    }
    const none = await t.app.inject({ url: '/v1/queue' });
    expect([none.statusCode, none.headers['www-authenticate']]).toEqual([401, 'Bearer realm="rappel"']);
    expect(
      (await t.app.inject({ url: '/v1/queue', headers: ops })).headers['www-authenticate'],
    ).toBeUndefined();
  });

  it('answers what the HTTP parser refuses (headers too long) as problem+json', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/v1/opening-hours?${'x'.repeat(20_000)}=1`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
    // A malformed request: the answer, then the connection is closed.
    const { port } = new URL(address);
    const send = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
        let data = '';
        socket.on('data', (d) => (data += d.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
    const answers = [
      await send('GET / HTTP/1.1\r\nno colon here\r\n\r\n'),
      // HTTP/1.1 without Host: Node's own answer was a bare 400 with no body.
      await send('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'),
      // Two Host lines (RFC 9112 §3.2): Node served it with the first.
      await send('GET /healthz HTTP/1.1\r\nHost: a\r\nhost: b\r\nConnection: close\r\n\r\n'),
      // A body whose chunked framing is malformed: the request was under way when the parser
      // refused it (an outside test got the connection closed without a word).
      await send(
        'POST /v1/callbacks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      ),
    ];
    for (const raw of answers) {
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('application/problem+json');
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
    // HTTP/1.0 has no Host requirement.
    expect(await send('GET /healthz HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('gives a request 15 s to arrive whole, body included', () => {
    // Node cut a body still arriving by headersTimeout (60 s) when only requestTimeout was set:
    // an outside check saw trickled bodies held 77–79 s.
    expect(t.app.server.requestTimeout).toBe(15_000);
    expect(t.app.server.headersTimeout).toBe(15_000);
  });

  it('survives a parser error after a finished response on the same connection', async () => {
    // An outside review crashed the process (an uncaught TypeError in the clientError handler)
    // with both: garbage on a kept-alive connection after a 200, and a client closing its side
    // after an early answer (401) to a request whose body had not all arrived.
    const port = t.app.server.listening
      ? (t.app.server.address() as AddressInfo).port
      : Number(new URL(await t.app.listen({ port: 0, host: '127.0.0.1' })).port);
    const address = `http://127.0.0.1:${port}`;
    const converse = (first: string, then: (socket: Socket) => void) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(first));
        let data = '';
        socket.once('data', () => setTimeout(() => then(socket), 50));
        socket.on('data', (d) => (data += d.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
        setTimeout(() => socket.destroy(), 3_000);
      });
    const keptAlive = await converse('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', (s) =>
      s.write('BLAH / HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    expect(keptAlive).toMatch(/^HTTP\/1\.1 200 /);
    expect(keptAlive).toContain('HTTP/1.1 400 '); // the garbage answered, the connection closed
    const early = await converse(
      'POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{',
      (s) => s.end(),
    );
    expect(early).toMatch(/^HTTP\/1\.1 401 /);
    // Still serving.
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
  });

  it('relays an outbox row into a real job and the job runs', async () => {
    // A callback-due job for an unknown callback is a harmless no-op: it proves the round trip.
    const { enqueueOutbox } = await import('../src/repositories/outbox.js');
    await enqueueOutbox(
      t.rt.db,
      {
        jobName: 'callback-due',
        jobId: 'due-probe-1',
        payload: { callbackId: '00000000-0000-0000-0000-000000000000', dueAt: 'x' },
        runAt: new Date(0),
      },
      new Date(),
    );
    const relayed = await t.rt.services.outbox.relay();
    expect(relayed).toBe(1);
    const job = await t.rt.queue.getJob('due-probe-1');
    expect(job?.name).toBe('callback-due');
    expect(await t.rt.services.outbox.relay()).toBe(0);
  });

  it('relays right after a commit and marks the row sent in a later batch', async () => {
    const { enqueueOutbox } = await import('../src/repositories/outbox.js');
    const id = await enqueueOutbox(
      t.rt.db,
      {
        jobName: 'callback-due',
        jobId: 'due-probe-2',
        payload: { callbackId: '00000000-0000-0000-0000-000000000000', dueAt: 'x' },
        runAt: new Date(0),
      },
      new Date(),
    );
    const sentAt = async () =>
      (await t.rt.db.selectFrom('outbox').select('sent_at').where('id', '=', id).executeTakeFirstOrThrow())
        .sent_at;
    await t.rt.services.outbox.relayNow([id]);
    expect((await t.rt.queue.getJob('due-probe-2'))?.name).toBe('callback-due');
    await t.rt.services.outbox.flush();
    expect(await sentAt()).toBeInstanceOf(Date);
    // Already sent: nothing left for the sweep, and a second relayNow adds nothing.
    expect(await t.rt.services.outbox.relay()).toBe(0);
  });
});
