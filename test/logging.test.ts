import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { booking, ops } from './support/api.js';

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
    const urls = lines
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { req?: { url: string } })
      .flatMap((l) => (l.req ? [l.req.url] : []));
    expect(urls).toEqual([
      '/v1/slots?domain=travail&from=2026-11-23&[redacted]',
      '/v1/nowhere?[redacted]&[redacted]',
      '/v1/callbacks?status=queued&domain=justice',
      '/v1/callbacks',
    ]);
    expect(lines).not.toMatch(/47.?19.?28.?35/);
    expect(lines).not.toContain(ops.authorization.slice('Bearer '.length));
  });
});
