import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALENDAR_LOCK } from '../src/repositories/closures.js';
import { booking, createAgent, ops } from './support/api.js';
import { NO_LIMITS, createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';

const expectProblem = (
  res: Awaited<ReturnType<TestContext['app']['inject']>>,
  status: number,
  code: string,
) => {
  expect(res.statusCode, res.body).toBe(status);
  expect(String(res.headers['content-type'])).toContain('application/problem+json');
  expect(res.json()).toMatchObject({ status, code });
};

/** Inputs and documents of the HTTP surface an outside review found wrong (helper-46). */
describe('HTTP surface', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let doc: {
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: { name: string; required?: boolean }[];
          responses: Record<string, unknown>;
          security?: unknown[];
        }
      >
    >;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { env: { ...NO_LIMITS, MAX_IN_FLIGHT_REQUESTS: '1' } });
    doc = (await t.app.inject('/openapi.json')).json();
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('refuses a query number JSON writes but that is not finite (Ajv read it as Infinity, past maximum)', async () => {
    for (const limit of ['1e400', '-1e400', '1e309']) {
      expectProblem(
        await t.app.inject({ url: `/v1/callbacks?limit=${limit}`, headers: ops }),
        400,
        'VALIDATION_ERROR',
      );
    }
    expectProblem(await t.app.inject('/v1/opening-hours?days=1e400'), 400, 'VALIDATION_ERROR');
    expect((await t.app.inject({ url: '/v1/callbacks?limit=1e1', headers: ops })).statusCode).toBe(200);
  });

  it('lists closures from a date before the calendar (year 0 included, which PostgreSQL has not) as from its first', async () => {
    for (const from of ['0000-01-01', '1999-12-31']) {
      const res = await t.app.inject({ url: `/v1/closures?from=${from}`, headers: ops });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual([]);
    }
  });

  it('documents `days` of /v1/opening-hours as optional (contract: 7 by default)', async () => {
    const days = doc.paths['/v1/opening-hours']!.get!.parameters!.find((p) => p.name === 'days')!;
    expect(days.required).not.toBe(true);
    expect((await t.app.inject('/v1/opening-hours')).json().days).toHaveLength(7);
  });

  it('documents GET /v1/callbacks/{reference} as anonymous or with the ops token, so that Swagger UI sends it', () => {
    expect(doc.paths['/v1/callbacks/{reference}']!.get!.security).toEqual([{}, { opsToken: [] }]);
  });

  it('documents a 503 for every operation: each answers it while the process stops, and most when a dependency is down', () => {
    const missing = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => !('503' in op.responses))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('serves /metrics as Prometheus text, not as a JSON string', async () => {
    const res = await t.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body.startsWith('"')).toBe(false);
    expect(res.body).toContain('# TYPE');
  });

  it('answers an OPTIONS request that is not a CORS preflight with problem+json 404, and still answers a preflight', async () => {
    const origin = 'https://www.service-public.gouv.fr';
    for (const headers of [{}, { origin }, { 'access-control-request-method': 'POST' }]) {
      expectProblem(
        await t.app.inject({ method: 'OPTIONS', url: '/v1/callbacks', headers }),
        404,
        'NOT_FOUND',
      );
    }
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/callbacks',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'idempotency-key',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
  });

  it('takes the filters of the ops lists sent empty, as the contract writes the route, as no filter', async () => {
    const all = await t.app.inject({ url: '/v1/callbacks', headers: ops });
    const empty = await t.app.inject({
      url: '/v1/callbacks?status=&domain=&from=&to=&limit=&cursor=',
      headers: ops,
    });
    expect(empty.statusCode, empty.body).toBe(200);
    expect(empty.json()).toEqual(all.json());
    expect((await t.app.inject({ url: '/v1/closures?from=', headers: ops })).statusCode).toBe(200);
    // A filter with a value is still checked.
    expectProblem(
      await t.app.inject({ url: '/v1/callbacks?status=x', headers: ops }),
      400,
      'VALIDATION_ERROR',
    );
    // Dates swapped: said, not an empty page; one day (from = to) is a range.
    const swapped = await t.app.inject({ url: '/v1/callbacks?from=2026-11-30&to=2026-11-01', headers: ops });
    expectProblem(swapped, 400, 'VALIDATION_ERROR');
    expect(swapped.json().detail).toBe('« to » (2026-11-01) est avant « from » (2026-11-30).');
    const oneDay = await t.app.inject({ url: '/v1/callbacks?from=2026-11-23&to=2026-11-23', headers: ops });
    expect(oneDay.statusCode).toBe(200);
  });

  it('answers a cancel token of any length that is not the right one with 404, as any wrong token', async () => {
    await createAgent(t.app, ['logement']);
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'logement', slotStart: '2026-11-23T10:00:00+01:00' }),
    });
    expect(created.statusCode, created.body).toBe(201);
    const { reference } = created.json();
    for (const token of ['x', 'x'.repeat(513), 'x'.repeat(4000)]) {
      const res = await t.app.inject({
        url: `/v1/callbacks/${reference}`,
        headers: { 'x-cancel-token': token },
      });
      expectProblem(res, 404, 'NOT_FOUND');
      const cancel = await t.app.inject({
        method: 'POST',
        url: `/v1/callbacks/${reference}/cancel`,
        payload: { cancelToken: token },
      });
      expectProblem(cancel, 404, 'NOT_FOUND');
    }
  });

  it('gives an overload 503 the CORS headers, so that the page can read it and its Retry-After', async () => {
    await createAgent(t.app, ['travail']);
    const origin = 'https://www.service-public.gouv.fr';
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      // One booking in flight (MAX_IN_FLIGHT_REQUESTS=1), waiting for the calendar lock.
      await other.query('SELECT pg_advisory_lock($1)', [CALENDAR_LOCK]);
      const held = t.app.inject({ method: 'POST', url: '/v1/callbacks', payload: booking() });
      await new Promise((r) => setTimeout(r, 200));
      const shed = await t.app.inject({ url: '/v1/slots?domain=travail', headers: { origin } });
      expectProblem(shed, 503, 'SERVICE_UNAVAILABLE');
      expect(shed.headers['access-control-allow-origin']).toBe(origin);
      expect(shed.headers['access-control-expose-headers']).toContain('Retry-After');
      await other.query('SELECT pg_advisory_unlock($1)', [CALENDAR_LOCK]);
      expect((await held).statusCode).toBe(201);
    } finally {
      await other.end();
    }
  });

  it('lets caches keep only the public calendar: never a callback, its cancel token or an error', async () => {
    await createAgent(t.app, ['logement']);
    const cacheControl = async (url: string, headers: Record<string, string> = {}) =>
      (await t.app.inject({ url, headers })).headers['cache-control'];
    expect(await cacheControl('/v1/domains')).toBe('public, max-age=3600');
    expect(await cacheControl('/v1/opening-hours')).toBe('public, max-age=60');
    expect(await cacheControl('/v1/slots?domain=logement')).toBe('no-cache');
    expect(await cacheControl('/v1/opening-hours?from=2026-02-30')).toBe('no-store'); // a 400
    expect(await cacheControl('/v1/slots?domain=logement&from=2026-02-30')).toBe('no-store');
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'logement', slotStart: '2026-11-23T11:00:00+01:00' }),
    });
    expect(created.statusCode, created.body).toBe(201);
    const { reference, cancelToken } = created.json();
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.headers.location).toBe(`/v1/callbacks/${reference}`);
    expect(await cacheControl(`/v1/callbacks/${reference}`, { 'x-cancel-token': cancelToken })).toBe(
      'no-store',
    );
    expect(await cacheControl('/v1/queue', ops)).toBe('no-store');
  });

  it('lets a page send what its libraries add and read what it needs of the answer', async () => {
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/callbacks',
      headers: {
        origin: 'https://www.service-public.gouv.fr',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,idempotency-key,traceparent,cache-control,pragma',
      },
    });
    expect(preflight.statusCode).toBe(204);
    const allowed = String(preflight.headers['access-control-allow-headers']).toLowerCase();
    for (const h of ['content-type', 'idempotency-key', 'traceparent', 'cache-control', 'pragma'])
      expect(allowed).toContain(h);
    const get = await t.app.inject({
      url: '/v1/domains',
      headers: { origin: 'https://www.service-public.gouv.fr' },
    });
    expect(String(get.headers['access-control-expose-headers'])).toMatch(/Idempotent-Replayed/);
    expect(String(get.headers['access-control-expose-headers'])).toMatch(/Location/);
  });
});
