import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createLogger, loggableError, loggableUrl, textWithoutPhone } from '../src/logger.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { sql } from 'kysely';
import { booking, createAgent, ops } from './support/api.js';

/** The service's own logger (src/logger.ts) on the access log: nothing of a caller in it. */
describe('access log', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let app: FastifyInstance;
  let lines = '';
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines += chunk.toString('utf8');
        done();
      },
    });
    app = await buildApp({
      config: t.rt.config,
      log: createLogger('info', sink),
      health: t.rt.health,
      services: t.rt.services,
      opsToken: t.rt.opsToken,
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
    await db?.drop();
  });

  it('keeps the values of the query parameters routes take, and drops any other', async () => {
    await app.inject('/v1/slots?domain=travail&from=2026-11-23&phone=06%2047%2019%2028%2035');
    await app.inject('/v1/nowhere?0647192835&tel=+33647192835');
    await app.inject({ url: '/v1/callbacks?status=queued&domain=justice', headers: ops });
    await app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking({ phone: '06 47 19 28 35' }) });
    // Known names with values not of their shape, a phone in the path, a fragment, the Host.
    await app.inject('/v1/domains?domain=0647192835&days=0647192835&cursor=0647192835');
    await app.inject('/v1/callbacks/06%2047%2019%2028%2035');
    await app.inject('/v1/nowhere/+33647192835/RAP-7K3Q9D#phone=0647192835');
    await app.inject({ url: '/v1/agents/0b0a2d1e-1c5f-4a7b-9e8d-123456789012', headers: ops });
    await app.inject({ url: '/v1/domains', headers: { host: '0647192835' } });
    await app.inject({ url: '/v1/domains', headers: { host: '192.168.100.200:3000' } });
    await app.inject({ url: '/v1/domains', headers: { host: '[0647192835]' } });
    // A client's request id is on every line of its request: not one that could be a phone.
    const echoed = await app.inject({ url: '/v1/domains', headers: { 'x-request-id': '06.47.19.28.35' } });
    expect(echoed.headers['x-request-id']).not.toBe('06.47.19.28.35');
    const uuidId = '5f0c7a52-8d1e-4b6a-9c3f-2e7d81a4b690';
    expect(
      (await app.inject({ url: '/v1/domains', headers: { 'x-request-id': uuidId } })).headers['x-request-id'],
    ).toBe(uuidId);
    const urls = lines
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { req?: { url: string } })
      .flatMap((l) => (l.req ? [l.req.url] : []));
    const hosts = lines
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { req?: { host?: string } })
      .flatMap((l) => (l.req ? [l.req.host] : []));
    // An address is kept with the server's own port (the next test); light-my-request's socket
    // has none, so its port counts as digits.
    expect(hosts.slice(-5, -2)).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    expect(urls).toEqual([
      '/v1/slots?domain=travail&from=2026-11-23&[redacted]',
      '/v1/nowhere?[redacted]&[redacted]',
      '/v1/callbacks?status=queued&domain=justice',
      '/v1/callbacks',
      '/v1/domains?domain=[redacted]&days=[redacted]&cursor=[redacted]',
      '/v1/callbacks/[redacted]',
      '/v1/nowhere/[redacted]/RAP-7K3Q9D',
      '/v1/agents/0b0a2d1e-1c5f-4a7b-9e8d-123456789012', // a uuid is kept whole
      '/v1/domains',
      '/v1/domains',
      '/v1/domains',
      '/v1/domains',
      '/v1/domains',
    ]);
    expect(lines).not.toMatch(/47.?19.?28.?35/); // the Host header included
    // However the number is written; what is not a phone is kept (a real cursor, an address).
    const cursor = Buffer.from('2026-11-23T08:00:00.000Z|0b0a2d1e-1c5f-4a7b-9e8d-123456789012').toString(
      'base64url',
    );
    expect(
      [
        '/v1/callbacks/06%C2%A047%C2%A019%C2%A028%C2%A035',
        '/v1/callbacks/06_47_19_28_35',
        '/v1/callbacks/06%2E47%2E19%2E28%2E35',
        '/v1/callbacks/06%E2%80%AF47%E2%80%AF19%E2%80%AF28%E2%80%AF35',
        '/v1/callbacks?cursor=00000000000647192835',
        `/v1/callbacks?cursor=${cursor}`,
        '/v1/callbacks/RAP-7K3Q9D',
        '/v1/callbacks/%E0%A4%A',
        // Split over segments; full-width digits; the host of an absolute-form target.
        '/v1/callbacks/06%2047/38%2029%2010',
        '/v1/callbacks/%EF%BC%90%EF%BC%96%EF%BC%94%EF%BC%97%EF%BC%93%EF%BC%98%EF%BC%92%EF%BC%99%EF%BC%91%EF%BC%90',
        'http://%EF%BC%90%EF%BC%96%EF%BC%94%EF%BC%97%EF%BC%93%EF%BC%98%EF%BC%92%EF%BC%99%EF%BC%91%EF%BC%90/v1/domains',
        '/v1/callbacks/RAP-349678/outcome',
      ].map(loggableUrl),
    ).toEqual([
      '/v1/callbacks/[redacted]',
      '/v1/callbacks/[redacted]',
      '/v1/callbacks/[redacted]',
      '/v1/callbacks/[redacted]',
      '/v1/callbacks?cursor=[redacted]',
      `/v1/callbacks?cursor=${cursor}`,
      '/v1/callbacks/RAP-7K3Q9D',
      '/v1/callbacks/%E0%A4%A', // malformed escapes: read raw, never thrown
      '/v1/callbacks/[redacted]/[redacted]',
      '/v1/callbacks/[redacted]',
      'http://[redacted]/v1/domains',
      '/v1/callbacks/RAP-349678/outcome', // a reference of six digits is kept
    ]);
    // A fragment (a raw client's: light-my-request drops it before the route) is not logged.
    expect(loggableUrl('/v1/domains?days=7#phone=0647192835')).toBe('/v1/domains?days=7#[redacted]');
    expect(lines).not.toContain(ops.authorization.slice('Bearer '.length));
  });

  it('keeps a Host address with the server port only, and a client address only if it is one', () => {
    let out = '';
    const log = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString('utf8');
          done();
        },
      }),
    );
    const req = (host: string, ip: string) => ({
      method: 'GET',
      url: '/v1/domains',
      host,
      ip,
      socket: { remoteAddress: '10.1.2.3', remotePort: 50_000, localPort: 3000 },
    });
    // Written like addresses, but phones: leading zeros, an octet over 255, a port not ours.
    for (const host of [
      '06.12.34.56:78',
      '061.234.567.8',
      '33.6.12.34:5678',
      '127.0.0.1:3000',
      'localhost:3000',
    ])
      log.info({ req: req(host, '192.0.2.7') });
    // A trusted X-Forwarded-For entry that is no address: the peer's address instead.
    log.info({ req: req('localhost', '06 12 34 56 78') });
    log.info({ req: req('localhost', 'fe80::1%0612345678') }); // an IPv6 zone is any text
    const logged = out
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { req: { host: string; remoteAddress: string } }).req);
    expect(logged.map((r) => r.host)).toEqual([
      '[redacted]',
      '[redacted]',
      '[redacted]',
      '127.0.0.1:3000',
      'localhost:3000',
      'localhost',
      'localhost',
    ]);
    expect(logged.map((r) => r.remoteAddress)).toEqual([
      ...Array(5).fill('192.0.2.7'),
      '10.1.2.3',
      '10.1.2.3',
    ]);
  });

  it('scrubs numbers from error texts, keeping dates and times, and never throws doing so', () => {
    expect(
      textWithoutPhone(
        '2026-11-24 10:00:00.123 CET [12345] ERROR: Key (phone)=(+33612345678) 06\u201112\u201134\u201156\u201178 2026-11-24/2026-11-30 port 5432',
      ),
    ).toBe(
      '2026-11-24 10:00:00.123 CET [12345] ERROR: Key (phone)=([redacted] 2026-11-24/2026-11-30 port 5432',
    );
    const cyclic = new Error('boucle 0612345678') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(loggableError(cyclic)).toMatchObject({
      message: 'boucle [redacted]',
      cause: { cause: { cause: {} } },
    });
    const odd = Object.assign(new Error('x'), { message: 42 });
    expect(loggableError(odd)).toMatchObject({ name: 'Error', message: undefined });
    expect(loggableError(Object.create(null))).toEqual({ message: 'object' }); // what it is, not String() of it
    const both = new AggregateError(
      [new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')],
      '',
    );
    expect((loggableError(both).errors as { message: string }[]).map((e) => e.message)).toEqual([
      'connect ECONNREFUSED ::1:5432',
      'connect ECONNREFUSED 127.0.0.1:5432',
    ]);
  });

  it('logs an unexpected error by its names, not the row PostgreSQL quotes', async () => {
    // A constraint the code does not expect: PostgreSQL's error carries the failing row, phone
    // and subject included, in `detail` (the whole error was logged).
    await createAgent(app, ['travail']);
    await sql`ALTER TABLE callbacks ADD CONSTRAINT log_test_no_boom CHECK (subject NOT LIKE '%BOOM%') NOT VALID`.execute(
      t.rt.db,
    );
    try {
      lines = '';
      const res = await app.inject({
        method: 'POST',
        url: '/v1/callbacks',
        payload: booking({ phone: '06 47 19 28 35', subject: 'BOOM licenciement' }),
      });
      expect(res.statusCode).toBe(500);
      const failure = lines
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; err?: Record<string, unknown> })
        .find((l) => l.msg === 'unexpected error');
      expect(failure?.err).toMatchObject({
        type: 'DatabaseError',
        code: '23514',
        constraint: 'log_test_no_boom',
        table: 'callbacks',
      });
      expect(failure?.err).not.toHaveProperty('detail');
      expect(lines).not.toMatch(/47.?19.?28.?35|licenciement/);
    } finally {
      await sql`ALTER TABLE callbacks DROP CONSTRAINT log_test_no_boom`.execute(t.rt.db);
    }
  });
});
