import { describe, expect, it } from 'vitest';
import { createAgent, ops } from '../support/api.js';
import { book, expectProblem, intakeFixture } from './support.js';

const f = intakeFixture();

describe('GET /v1/callbacks/{reference}', () => {
  it('shows the citizen the callback with the phone masked, and nothing more', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const created = await book(t.app, { phone: '+33 6 12 34 56 78' });
    const res = await t.app.inject({
      url: `/v1/callbacks/${created.reference}`,
      headers: { 'x-cancel-token': created.cancelToken },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    const view = res.json();
    expect(view).toMatchObject({
      reference: created.reference,
      status: 'scheduled',
      domain: 'travail',
      window: { start: '2026-11-23T09:00:00+01:00', end: '2026-11-23T09:30:00+01:00' },
      phone: '06 •• •• •• 78',
    });
    for (const hidden of ['cancelToken', 'history', 'attempts', 'subject', 'id'])
      expect(view).not.toHaveProperty(hidden);
    expect(res.body).not.toContain('612345678');
    expect(res.body).not.toContain(created.cancelToken);
  });

  it('answers 404 NOT_FOUND alike for unknown or malformed references and missing or wrong tokens', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const a = await book(t.app);
    const b = await book(t.app, { slotStart: '2026-11-23T10:00:00+01:00' });
    const cases: [string, Record<string, string>][] = [
      ['RAP-XXXXXX', { 'x-cancel-token': a.cancelToken }], // well formed, unknown
      ['RAP-000000', { 'x-cancel-token': a.cancelToken }], // characters outside the alphabet
      ['hello', { 'x-cancel-token': a.cancelToken }],
      [`${a.reference}X`, { 'x-cancel-token': a.cancelToken }],
      [encodeURIComponent('RAP-ÉÉÉÉÉÉ'), { 'x-cancel-token': a.cancelToken }],
      [a.reference, {}], // missing token
      [a.reference, { 'x-cancel-token': '' }],
      [a.reference, { 'x-cancel-token': 'not-the-token' }],
      [a.reference, { 'x-cancel-token': b.cancelToken }], // another callback's token
      [a.reference, { 'x-cancel-token': a.cancelToken.toUpperCase() }],
    ];
    const details = new Set<unknown>();
    for (const [reference, headers] of cases) {
      const res = await t.app.inject({ url: `/v1/callbacks/${reference}`, headers });
      const problem = expectProblem(res, 'NOT_FOUND');
      details.add(problem.detail);
      expect(res.body).not.toContain(a.reference);
    }
    // Nothing tells an unknown reference from a wrong token.
    expect(details.size).toBe(1);
  });

  /** GET status and POST cancel of one reference path. */
  async function bothRoutes(app: Parameters<typeof book>[0], reference: string, token: string) {
    return [
      await app.inject({ url: `/v1/callbacks/${reference}`, headers: { 'x-cancel-token': token } }),
      await app.inject({
        method: 'POST',
        url: `/v1/callbacks/${reference}/cancel`,
        payload: { cancelToken: token },
      }),
    ];
  }

  it('answers 404 NOT_FOUND for a reference longer than the schema allows', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const a = await book(t.app);
    for (const res of await bothRoutes(t.app, `RAP-${'A'.repeat(70)}`, a.cancelToken))
      expectProblem(res, 'NOT_FOUND');
  });

  it('answers problem+json 404 for a reference past the router limit (100) or badly percent-encoded', async () => {
    // Fastify answers these from its router with its own JSON (414 FST_ERR_MAX_PARAM_LENGTH,
    // 400 FST_ERR_BAD_URL) unless the app sets `frameworkErrors`.
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const a = await book(t.app);
    for (const reference of [`RAP-${'A'.repeat(200)}`, 'RAP-%E0%A4%A', '%']) {
      for (const res of await bothRoutes(t.app, reference, a.cancelToken)) {
        expect(res.headers['content-type'], `${reference}: ${res.body}`).toContain(
          'application/problem+json',
        );
        expectProblem(res, 'NOT_FOUND');
      }
    }
  });

  it('shows ops the attempts and the history with the ops token, the phone still masked', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const created = await book(t.app, { phone: '06 12 34 56 78' });
    const res = await t.app.inject({ url: `/v1/callbacks/${created.reference}`, headers: ops });
    expect(res.statusCode).toBe(200);
    const view = res.json();
    expect(view).toMatchObject({
      reference: created.reference,
      status: 'scheduled',
      attempts: 0,
      phone: '06 •• •• •• 78',
    });
    expect(view.history).toEqual([expect.objectContaining({ type: 'created', to: 'scheduled' })]);
    expect(res.body).not.toContain('612345678');
    expect(res.body).not.toContain(created.cancelToken);

    const unknown = await t.app.inject({ url: '/v1/callbacks/RAP-XXXXXX', headers: ops });
    expectProblem(unknown, 'NOT_FOUND');
  });

  it("answers an informateur's token with 403 FORBIDDEN (wrong role) and an unknown one with 401", async () => {
    const t = await f.start('postgres');
    const agent = await createAgent(t.app, ['travail']);
    const created = await book(t.app);
    const view = (token: string) =>
      t.app.inject({
        url: `/v1/callbacks/${created.reference}`,
        headers: { authorization: `Bearer ${token}` },
      });
    expectProblem(await view(agent.token), 'FORBIDDEN');
    expectProblem(await view('nope-nope-nope-nope'), 'UNAUTHORIZED');
  });

  it('gives nothing to a bearer token that is not the ops token', async () => {
    const t = await f.start('postgres');
    const agent = await createAgent(t.app, ['travail']);
    const created = await book(t.app);
    for (const authorization of [`Bearer ${agent.token}`, 'Bearer nope-nope-nope-nope']) {
      const res = await t.app.inject({
        url: `/v1/callbacks/${created.reference}`,
        headers: { authorization },
      });
      expect([401, 403, 404]).toContain(res.statusCode);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).not.toContain('history');
    }
  });
});
