import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { booking } from '../support/api.js';
import { createTestDatabase, OPS_TOKEN } from '../support/runtime.js';
import {
  freePort,
  killAllChildren,
  spawnRappel,
  stopChild,
  waitReady,
  type Child,
} from '../support/processes.js';
import { eventually, listOver, opsHeaders, quietly, remainingAt } from './support.js';

// The processes' clocks start Monday 08:00 and run on: Tuesday's windows stay far from notice.
const TUE_0900 = '2026-11-24T09:00:00+01:00';
const Q = 'domain=travail&days=3';

/** Two API processes on one database, each with its own cache (a TTL of one minute). */
describe('slot listings across API processes', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let a: Child;
  let b: Child;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const prefix = `sc${randomBytes(4).toString('hex')}`;
    const spawnApi = async (name: string) =>
      spawnRappel({
        name,
        env: {
          NODE_ENV: 'test',
          APP_ROLE: 'api',
          HOST: '127.0.0.1',
          PORT: String(await freePort()),
          DATABASE_URL: db.url,
          REDIS_URL: undefined,
          QUEUE_PREFIX: prefix,
          OPS_API_TOKEN: OPS_TOKEN,
          APP_NOW: '2026-11-23T08:00:00+01:00',
          RATE_LIMIT_PER_IP_PER_MINUTE: '0',
          RATE_LIMIT_PER_PHONE_PER_DAY: '0',
          SEED_DEMO: 'false',
          SLOTS_CACHE_MS: '60000',
          LOG_LEVEL: 'warn',
        },
      });
    a = await spawnApi('api-a');
    b = await spawnApi('api-b');
    await Promise.all([waitReady(a, 45_000), waitReady(b, 45_000)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((c) => stopChild(c).catch(() => undefined)));
    await killAllChildren();
    await sql?.end();
    await db?.drop();
  });

  const post = (child: Child, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${child.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  /** Polls process A (whose listing is cached) until `ok`; at most one second. */
  const onA = (what: string, ok: (l: Awaited<ReturnType<typeof listOver>>) => boolean) =>
    eventually(what, async () => ok(await listOver(a.baseUrl, Q)), 1_000);

  it('a change made through one process is listed by the other within a second', async () => {
    for (const name of ['Informateur 1', 'Informateur 2']) {
      const res = await post(b, '/v1/agents', { displayName: name, domains: ['travail'] }, opsHeaders);
      expect(res.status).toBe(201);
    }
    await onA('two informateurs', (l) => remainingAt(l, TUE_0900) === 2);

    // A's listing comes from its memory: a change written without notification goes unseen.
    const warm = await listOver(a.baseUrl, Q);
    await quietly(sql, `INSERT INTO window_load (domain, window_start, booked) VALUES ('travail', $1, 1)`, [
      TUE_0900,
    ]);
    expect((await listOver(a.baseUrl, Q)).body).toBe(warm.body);
    await quietly(sql, 'DELETE FROM window_load');

    const booked = await post(b, '/v1/callbacks', booking({ slotStart: TUE_0900 }));
    expect(booked.status).toBe(201);
    await onA('a booking on B', (l) => remainingAt(l, TUE_0900) === 1);

    const { reference, cancelToken } = (await booked.json()) as { reference: string; cancelToken: string };
    const cancelled = await post(b, `/v1/callbacks/${reference}/cancel`, { cancelToken });
    expect(cancelled.status).toBe(200);
    await onA('a cancel on B', (l) => remainingAt(l, TUE_0900) === 2);

    const closure = await post(b, '/v1/closures', { date: '2026-11-24', reason: 'Inventaire' }, opsHeaders);
    expect(closure.status).toBe(201);
    await onA('a closure on B', (l) => !l.slots.some((s) => s.start.startsWith('2026-11-24')));
    const id = ((await closure.json()) as { id: string }).id;
    const del = await fetch(`${b.baseUrl}/v1/closures/${id}`, {
      method: 'DELETE',
      headers: { authorization: opsHeaders.authorization },
    });
    expect(del.status).toBe(204);
    await onA('a deleted closure on B', (l) => remainingAt(l, TUE_0900) === 2);

    const third = await post(
      b,
      '/v1/agents',
      { displayName: 'Informateur 3', domains: ['travail'] },
      opsHeaders,
    );
    expect(third.status).toBe(201);
    await onA('a third informateur on B', (l) => remainingAt(l, TUE_0900) === 3);
    const off = await fetch(`${b.baseUrl}/v1/agents/${((await third.json()) as { id: string }).id}`, {
      method: 'PATCH',
      headers: opsHeaders,
      body: JSON.stringify({ active: false }),
    });
    expect(off.status).toBe(200);
    await onA('a deactivation on B', (l) => remainingAt(l, TUE_0900) === 2);
  });
});
