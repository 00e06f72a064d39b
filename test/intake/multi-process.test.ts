import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { booking } from '../support/api.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { createTestDatabase, OPS_TOKEN } from '../support/runtime.js';
import {
  freePort,
  killAllChildren,
  spawnRappel,
  stopChild,
  waitReady,
  type Child,
} from '../support/processes.js';
import { CONTRACT_CODES, randomPhones, windowTruth } from './support.js';

const WINDOW = '2026-11-23T10:00:00+01:00';
const BOOKINGS = 200;
const PROCESSES = 3;

describe('several API processes sharing PostgreSQL and Redis', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  const children: Child[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    const prefix = `mp${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < PROCESSES; i += 1) {
      children.push(
        spawnRappel({
          name: `api-${i}`,
          env: {
            NODE_ENV: 'test',
            APP_ROLE: 'api',
            HOST: '127.0.0.1',
            PORT: String(await freePort()),
            DATABASE_URL: db.url,
            REDIS_URL: TEST_REDIS_URL,
            QUEUE_PREFIX: prefix,
            OPS_API_TOKEN: OPS_TOKEN,
            // The clock starts Monday 08:00 and runs on: 10:00 stays bookable for the test's duration.
            APP_NOW: '2026-11-23T08:00:00+01:00',
            RATE_LIMIT_PER_IP_PER_MINUTE: '0',
            CALLBACKS_PER_AGENT_PER_SLOT: '1',
            SEED_DEMO: 'false',
            LOG_LEVEL: 'warn',
          },
        }),
      );
    }
    await Promise.all(children.map((c) => waitReady(c, 45_000)));
  }, 90_000);

  afterAll(async () => {
    await killAllChildren();
    await sql?.end();
    await db?.drop();
  });

  it('book exactly the capacity of a window between them under 200 simultaneous requests', async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${children[i % PROCESSES]!.baseUrl}/v1/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OPS_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: `Informateur ${i}`, domains: ['travail'] }),
      });
      expect(res.status).toBe(201);
    }
    // Warm each process up, as a running service is (a refusal for a domain nobody covers writes nothing).
    for (const c of children) {
      for (let i = 0; i < 10; i += 1) {
        const res = await fetch(`${c.baseUrl}/v1/callbacks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(booking({ domain: 'justice', phone: randomPhones(1)[0], slotStart: WINDOW })),
        });
        expect(res.status).toBe(409);
      }
    }
    const answers = await Promise.all(
      randomPhones(BOOKINGS).map(async (phone, i) => {
        const res = await fetch(`${children[i % PROCESSES]!.baseUrl}/v1/callbacks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(booking({ phone, slotStart: WINDOW })),
          signal: AbortSignal.timeout(30_000),
        });
        return {
          status: res.status,
          type: res.headers.get('content-type'),
          body: (await res.json()) as { code?: string },
        };
      }),
    );
    const byStatus: Record<string, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const odd = answers.filter((a) => a.status !== 201 && a.status !== 409).slice(0, 3);
    expect(byStatus, `${JSON.stringify(odd)}\n${children.map((c) => c.output()).join('\n')}`).toEqual({
      201: 3,
      409: BOOKINGS - 3,
    });
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.type).toContain('application/problem+json');
      expect(a.body.code).toBe('SLOT_FULL');
      expect(CONTRACT_CODES[a.body.code!]).toBe(409);
    }
    expect(await windowTruth(sql, 'travail', WINDOW)).toEqual({ callbacks: 3, booked: 3 });
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM callbacks');
    expect(rows[0]!.n).toBe(3);
  });

  it('stop gracefully on SIGTERM with exit code 0', async () => {
    const codes = await Promise.all(children.map((c) => stopChild(c, 30_000)));
    expect(codes, children.map((c) => c.output()).join('\n')).toEqual(children.map(() => 0));
  });
});
