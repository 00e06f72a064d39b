import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { makeReference } from '../../src/domain/reference.js';
import { createTestDatabase, startTestApp, type TestContext } from './runtime.js';
import { nextPhone } from './api.js';

export async function pull(app: FastifyInstance, token: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/agents/me/next',
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.statusCode === 204) return null;
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { reference: string; phone: string; domain: string; attempts: number; status: string };
}

export async function outcome(
  app: FastifyInstance,
  token: string,
  reference: string,
  body: Record<string, unknown>,
) {
  return app.inject({
    method: 'POST',
    url: `/v1/callbacks/${reference}/outcome`,
    headers: { authorization: `Bearer ${token}` },
    payload: body,
  });
}

/** The desk tests' clock: Monday 23 November 2026, 09:00 in Metz. */
export const DESK_NOW = '2026-11-23T09:00:00+01:00';

/** A queued callback of `domain`, due `minutesAgo` before NOW (inserted as intake would leave it). */
export async function queued(t: TestContext, domain: string, minutesAgo: number): Promise<string> {
  const reference = makeReference(randomBytes);
  const due = new Date(Date.parse(DESK_NOW) - minutesAgo * 60_000);
  await t.rt.db
    .insertInto('callbacks')
    .values({
      id: randomUUID(),
      reference,
      domain,
      mode: 'asap',
      status: 'queued',
      phone: `+33${nextPhone().slice(1)}`,
      phone_region: 'FR',
      window_start: due,
      window_end: new Date(due.getTime() + 45 * 60_000),
      due_at: due,
      queued_at: due,
      cancel_token_hash: randomBytes(32),
      created_at: due,
      updated_at: due,
    })
    .execute();
  return reference;
}

/** A database and an app of the describe block's own (its informateurs are nobody else's). */
export function appOfItsOwn(set: (t: TestContext, dbUrl: string) => void): void {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let t: TestContext | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'redis', { now: DESK_NOW, env: { RATE_LIMIT_PER_IP_PER_MINUTE: '0' } });
    set(t, db.url);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });
}
