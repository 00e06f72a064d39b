import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as OutcomeRepository from '../src/repositories/outcome.js';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { booking, createAgent, ops, setStatus } from './support/api.js';
import { outcome, pull } from './support/desk.js';

/**
 * An outcome that PostgreSQL keeps rolling back as a deadlock's victim (40P01): asked again up
 * to 3 times, then 503 SERVICE_UNAVAILABLE, never 500, and nothing written. The deadlock itself
 * is made for real in desk-pull.test.ts; here the outcome statement fails every time.
 */
const calls = vi.hoisted(() => ({ n: 0, failing: false }));
vi.mock('../src/repositories/outcome.js', async (importOriginal) => {
  const real = await importOriginal<typeof OutcomeRepository>();
  return {
    ...real,
    applyOutcome: (...args: Parameters<typeof real.applyOutcome>) => {
      if (!calls.failing) return real.applyOutcome(...args);
      calls.n++;
      return Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' }));
    },
  };
});

describe('an outcome rolled back by PostgreSQL every time', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', {
      now: '2026-11-23T09:00:00+01:00',
      env: { RATE_LIMIT_PER_IP_PER_MINUTE: '0' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('is asked 3 times, then answers 503 with Retry-After, and the callback stays on the desk', async () => {
    const agent = await createAgent(t.app, ['justice'], 'Jeanne');
    await setStatus(t.app, agent.token, 'available');
    const asap = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ domain: 'justice', mode: 'asap', slotStart: undefined }),
    });
    expect(asap.statusCode, asap.body).toBe(201);
    const ref = asap.json().reference as string;
    expect((await pull(t.app, agent.token))?.reference).toBe(ref);

    calls.failing = true;
    const res = await outcome(t.app, agent.token, ref, { outcome: 'reached' }).finally(() => {
      calls.failing = false;
    });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().code).toBe('SERVICE_UNAVAILABLE');
    expect(calls.n).toBe(3);

    const seen = (await t.app.inject({ url: `/v1/callbacks/${ref}`, headers: ops })).json();
    expect(seen.status).toBe('assigned');
    expect((await pull(t.app, agent.token))?.reference).toBe(ref);
    // Asked again once PostgreSQL lets it through, the outcome is taken.
    expect((await outcome(t.app, agent.token, ref, { outcome: 'reached' })).json().status).toBe('completed');
  });
});
