import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { booking, createAgent, ops, setStatus } from './support/api.js';
import { pull } from './support/desk.js';

const NOW = '2026-11-23T09:00:00+01:00'; // a Monday, the centre is open

describe('agent routes check the token before the body, as ops routes do', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let agent: { id: string; token: string };
  let assigned: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { now: NOW, env: NO_LIMITS });
    agent = await createAgent(t.app, ['travail'], 'Inès');
    await setStatus(t.app, agent.token, 'available');
    const asap = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ mode: 'asap' }),
    });
    expect(asap.statusCode, asap.body).toBe(201);
    assigned = (await pull(t.app, agent.token))!.reference;
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  type Case = [string, (token?: string) => InjectOptions];
  /** A request to an agent route with this body, sent with the given token or none. */
  const sent =
    (method: 'PUT' | 'POST', url: () => string, payload: string | object, type = 'application/json') =>
    (token?: string): InjectOptions => ({
      method,
      url: url(),
      headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      payload,
    });

  const badBodies: Case[] = [
    [
      'PUT /v1/agents/me/status {"status":"bogus"}',
      sent('PUT', () => '/v1/agents/me/status', { status: 'bogus' }),
    ],
    [
      'POST /v1/callbacks/{reference}/outcome {}',
      sent('POST', () => `/v1/callbacks/${assigned}/outcome`, {}),
    ],
    [
      'POST /v1/callbacks/{malformed}/outcome {"outcome":"reached"}',
      sent('POST', () => '/v1/callbacks/not-a-reference!/outcome', { outcome: 'reached' }),
    ],
    ...(
      [
        ['malformed JSON', 'application/json', '{oops'],
        ['a Latin-1 charset', 'application/json; charset=iso-8859-1', '{"status":"paused"}'],
        ['a media type it does not take', 'application/xml', '<status>paused</status>'],
        ['a lone surrogate', 'application/json', '{"status":"paused","x":"\\ud800"}'],
      ] as const
    ).flatMap(([what, type, body]): Case[] =>
      (
        [
          ['PUT', '/v1/agents/me/status'],
          ['POST', '/v1/agents/me/next'],
          ['POST', '/v1/callbacks/RAP-AAAAAA/outcome'],
        ] as const
      ).map(([method, url]) => [`${method} ${url} with ${what}`, sent(method, () => url, body, type)]),
    ),
  ];

  it.each(badBodies)(
    '%s: 401 without a token or with one nobody holds, 403 with the ops token',
    async (_n, req) => {
      for (const [token, status, code] of [
        [undefined, 401, 'UNAUTHORIZED'],
        ['nobody-holds-this-token', 401, 'UNAUTHORIZED'],
        [ops.authorization.slice('Bearer '.length), 403, 'FORBIDDEN'],
      ] as const) {
        const res = await t.app.inject(req(token));
        expect(res.statusCode, `${token}: ${res.body}`).toBe(status);
        expect(res.json().code).toBe(code);
      }
    },
  );

  it.each(badBodies)(
    '%s: with the informateur’s own token, the body is judged (400, or 404 for the reference)',
    async (name, req) => {
      const res = await t.app.inject(req(agent.token));
      const expected = name.includes('{malformed}') ? 404 : 400;
      expect(res.statusCode, res.body).toBe(expected);
      expect(res.json().code).toBe(expected === 404 ? 'NOT_FOUND' : 'VALIDATION_ERROR');
    },
  );

  it('valid bodies still work', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/callbacks/${assigned}/outcome`,
      headers: { authorization: `Bearer ${agent.token}` },
      payload: { outcome: 'reached' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('completed');
  });
});
