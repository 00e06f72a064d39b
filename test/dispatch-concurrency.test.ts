import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeReference } from '../src/domain/reference.js';
import { TEST_REDIS_URL } from './support/env.js';
import { createTestDatabase, OPS_TOKEN } from './support/runtime.js';
import {
  freePort,
  killAllChildren,
  spawnRappel,
  stopChild,
  waitReady,
  type Child,
} from './support/processes.js';

const CALLBACKS = 1000;
const INFORMATEURS = 100;
const DOMAINS = ['travail', 'interieur', 'justice', 'logement'];

/**
 * 100 informateurs pulling at once against 1,000 queued callbacks, over 2 API processes and
 * 2 worker processes (which push to idle informateurs at the same time): every callback is
 * assigned exactly once and no desk ever holds two.
 */
describe('pull next under concurrency, 2 API + 2 worker processes on Redis', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  const apis: Child[] = [];
  const workerMetrics: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const refs = new Set<string>();
    while (refs.size < CALLBACKS) refs.add(makeReference(randomBytes));
    await sql.query(
      `INSERT INTO callbacks (id, reference, domain, mode, status, phone, phone_region, window_start, window_end, due_at, queued_at, cancel_token_hash, created_at, updated_at)
       SELECT gen_random_uuid(), r.ref, (ARRAY['travail','interieur','justice','logement'])[1 + r.i % 4], 'asap', 'queued',
              '+336' || lpad(r.i::text, 8, '0'), 'FR', t, t + interval '45 minutes', t + (r.i % 7) * interval '1 second', t, sha256(r.ref::bytea), t, t
       FROM unnest($1::text[]) WITH ORDINALITY AS r(ref, i), (SELECT '2026-11-23T08:30:00+01:00'::timestamptz AS t) c`,
      [[...refs]],
    );
    const env = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: `dc${randomBytes(4).toString('hex')}`,
      OPS_API_TOKEN: OPS_TOKEN,
      APP_NOW: '2026-11-23T09:00:00+01:00',
      RATE_LIMIT_PER_IP_PER_MINUTE: '0',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < 2; i++)
      apis.push(
        spawnRappel({ name: `api-${i}`, env: { ...env, APP_ROLE: 'api', PORT: String(await freePort()) } }),
      );
    for (let i = 0; i < 2; i++) workerMetrics.push(`http://127.0.0.1:${await freePort()}/metrics`);
    const workers = [0, 1].map((i) =>
      spawnRappel({
        name: `worker-${i}`,
        entry: 'src/worker.ts',
        env: {
          ...env,
          APP_ROLE: 'worker',
          LOG_LEVEL: 'info',
          METRICS_PORT: new URL(workerMetrics[i]!).port,
        },
      }),
    );
    await Promise.all(apis.map((c) => waitReady(c, 60_000)));
    // Workers have no HTTP port: wait until both have started their BullMQ worker.
    const deadline = Date.now() + 60_000;
    while (!workers.every((w) => w.output().includes('worker started'))) {
      if (Date.now() > deadline || workers.some((w) => w.hasExited()))
        throw new Error(workers.map((w) => w.output()).join('\n'));
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    await killAllChildren();
    await sql?.end();
    await db?.drop();
  });

  it('assigns every callback exactly once and never two on one desk', async () => {
    const agents: { id: string; token: string; base: string }[] = [];
    for (let i = 0; i < INFORMATEURS; i++) {
      const base = apis[i % 2]!.baseUrl;
      const domains = i < 4 ? [DOMAINS[i]!] : DOMAINS.filter((_, d) => (i >> d) % 2 === 1 || d === i % 4);
      const res = await fetch(`${base}/v1/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OPS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: `Informateur ${i}`, domains }),
      });
      expect(res.status).toBe(201);
      const a = (await res.json()) as { id: string; token: string };
      agents.push({ ...a, base });
    }

    const handledBy = new Map<string, string[]>();
    const deadline = Date.now() + 90_000;
    const loop = async (agent: (typeof agents)[number], n: number) => {
      // Each informateur alternates between the two API processes.
      const bases = [agent.base, apis[(n + 1) % 2]!.baseUrl];
      for (let k = 0; ; k++) {
        const base = bases[k % 2]!;
        const auth = { authorization: `Bearer ${agent.token}` };
        const res = await fetch(`${base}/v1/agents/me/next`, { method: 'POST', headers: auth });
        if (res.status === 204) {
          // A 204 only says nothing was claimable at that instant: a worker may be putting a
          // callback on this very desk (its row locked, so skipped by the claim). A real
          // informateur asks again; so does this one, until every callback is handled or the
          // deadline passes (then the assertions below report what was lost).
          if (handledBy.size >= CALLBACKS || Date.now() > deadline) return;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        expect(res.status).toBe(200);
        const c = (await res.json()) as { reference: string };
        handledBy.set(c.reference, [...(handledBy.get(c.reference) ?? []), agent.id]);
        const done = await fetch(`${bases[(k + 1) % 2]}/v1/callbacks/${c.reference}/outcome`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ outcome: 'reached' }),
        });
        expect(done.status, await done.clone().text()).toBe(200);
      }
    };
    await Promise.all(agents.map((a, n) => loop(a, n)));

    expect(handledBy.size).toBe(CALLBACKS);
    expect([...handledBy.values()].filter((v) => v.length !== 1)).toEqual([]);
    const status = await sql.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM callbacks GROUP BY status`,
    );
    expect(status.rows).toEqual([{ status: 'completed', n: CALLBACKS }]);
    const assigned = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT callback_id FROM callback_events WHERE type = 'assigned' GROUP BY callback_id HAVING count(*) <> 1) x`,
    );
    expect(assigned.rows[0]!.n).toBe(0);
    // Every assignment is in the dispatch histogram of the process that made it: the APIs'
    // pulls, and the workers' pushes, which the workers export on METRICS_PORT.
    const counted = await Promise.all(
      [...apis.map((a) => `${a.baseUrl}/metrics`), ...workerMetrics].map(async (url) => {
        const text = await (await fetch(url)).text();
        return Number(/^rappel_dispatch_latency_seconds_count (\d+)$/m.exec(text)?.[1]);
      }),
    );
    expect(
      counted.reduce((a, b) => a + b, 0),
      JSON.stringify(counted),
    ).toBe(CALLBACKS);
    expect((await fetch(workerMetrics[0]!.replace('/metrics', '/v1/queue'))).status).toBe(404);
    // Per informateur, assignments and outcomes strictly alternate: never two callbacks on one desk.
    const seq = await sql.query<{ actor: string; types: string[] }>(
      `SELECT actor, array_agg(type ORDER BY id) AS types FROM callback_events WHERE type IN ('assigned','outcome') GROUP BY actor`,
    );
    for (const row of seq.rows) {
      row.types.forEach((t, i) => expect(t).toBe(i % 2 === 0 ? 'assigned' : 'outcome'));
    }
    const codes = await Promise.all(apis.map((c) => stopChild(c)));
    expect(codes).toEqual([0, 0]);
  }, 180_000);
});
