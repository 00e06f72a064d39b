import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../support/runtime.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { killAllChildren, stopChild } from '../support/processes.js';
import { asOps, call, createAgent, setAgentStatus } from './support/http.js';
import {
  BusinessClock,
  OPS_TOKEN,
  newPrefix,
  startRappel,
  waitFor,
  type Stack,
  takeStacksUsed,
} from './support/rappel.js';
import { BULLMQ_TABLES, dumpRedis, dumpTables, phonePattern } from './support/dump.js';
import { clearQueue } from './support/verify.js';

const SUBJECT = 'Rupture conventionnelle refusée par Zéphyrin Quastelbaum';
const NOTE = 'Rappeler plutôt au 06 98 76 54 32, messagerie de Mme Quastelbaum';
/** Every number the run sends, in the writings citizens use; the last two are refused. */
const PHONES = [
  { writing: '06 12 34 56 78', digits: '612345678' },
  { writing: '+33 6 23 45 67 89', digits: '623456789' },
  { writing: '0033634567891', digits: '634567891' },
  { writing: '06.45.67.89.12', digits: '645678912' },
  { writing: '+262 692 12 34 56', digits: '692123456' },
  { writing: '08 99 12 34 56', digits: '899123456' },
  { writing: '06 98 76 54 32', digits: '698765432' },
];

/**
 * Data protection (reliability issue): a full run of real processes at LOG_LEVEL=debug, then
 * everything they wrote to stdout/stderr is searched: no phone number in any writing, no
 * subject or note text, no cancel, informateur or ops token. And no BullMQ job (in Redis, or
 * in the bullmq schema of PostgreSQL), nor the outbox, carries a phone number or a subject.
 */
describe.each(BACKENDS)('no personal data in logs or jobs (%s backend)', (backend) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterAll(async () => {
    await killAllChildren();
    await Promise.all(takeStacksUsed().map(clearQueue));
    await sql?.end();
    await db?.drop();
  });

  it('a full run at debug level logs and enqueues ids, never personal data', async () => {
    const stack: Stack = {
      databaseUrl: db.url,
      redisUrl: backend === 'redis' ? TEST_REDIS_URL : null,
      prefix: newPrefix(),
      clock: new BusinessClock('2026-11-23T10:00:00+01:00'),
      env: { LOG_LEVEL: 'debug', RATE_LIMIT_PER_IP_PER_MINUTE: '1000', RATE_LIMIT_PER_PHONE_PER_DAY: '5' },
    };
    const [api, worker] = await Promise.all([startRappel(stack, 'api'), startRappel(stack, 'worker')]);
    const secrets: string[] = [OPS_TOKEN];
    const agent = await createAgent(api.baseUrl, ['travail', 'logement']);
    secrets.push(agent.token);
    const asAgent = { authorization: `Bearer ${agent.token}` };

    const post = (body: Record<string, unknown>, key?: string) =>
      call(api.baseUrl, 'POST', '/v1/callbacks', {
        body,
        ...(key ? { headers: { 'idempotency-key': key } } : {}),
      });
    const base = { domain: 'logement', ficheId: 'F2258', subject: SUBJECT, consent: true };
    const created = [];
    for (const [i, p] of PHONES.slice(0, 5).entries()) {
      const r = await post(
        { ...base, phone: p.writing, mode: 'slot', slotStart: `2026-11-23T1${1 + (i % 3)}:00:00+01:00` },
        `key-${i}`,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      created.push(r.body as { reference: string; cancelToken: string });
      secrets.push(r.body.cancelToken as string);
    }
    // Refusals and replays: an idempotent replay, a duplicate, a premium-rate number, a bad body.
    expect(
      (
        await post(
          { ...base, phone: PHONES[0]!.writing, mode: 'slot', slotStart: '2026-11-23T11:00:00+01:00' },
          'key-0',
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await post({
          ...base,
          phone: PHONES[1]!.writing,
          mode: 'slot',
          slotStart: '2026-11-23T12:00:00+01:00',
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await post({
          ...base,
          phone: PHONES[5]!.writing,
          mode: 'slot',
          slotStart: '2026-11-23T12:00:00+01:00',
        })
      ).status,
    ).toBe(422);
    expect((await post({ ...base, phone: 612345678, mode: 'slot' })).status).toBe(400);

    // Citizen status and cancel, with a right and a wrong token; ops view.
    const first = created[0]!;
    const status = await call(api.baseUrl, 'GET', `/v1/callbacks/${first.reference}`, {
      headers: { 'x-cancel-token': first.cancelToken },
    });
    expect(status.status).toBe(200);
    expect(
      (
        await call(api.baseUrl, 'GET', `/v1/callbacks/${first.reference}`, {
          headers: { 'x-cancel-token': 'nope' },
        })
      ).status,
    ).toBe(404);
    expect(
      (await call(api.baseUrl, 'GET', `/v1/callbacks/${first.reference}`, { headers: asOps })).status,
    ).toBe(200);
    expect(
      (
        await call(api.baseUrl, 'POST', `/v1/callbacks/${created[1]!.reference}/cancel`, {
          body: { cancelToken: created[1]!.cancelToken },
        })
      ).status,
    ).toBe(200);

    // An asap request, dispatched by the worker, pulled, answered "no answer" with a note.
    await setAgentStatus(api.baseUrl, agent.token, 'available');
    const asap = await post({
      domain: 'travail',
      phone: PHONES[6]!.writing,
      mode: 'asap',
      subject: SUBJECT,
      consent: true,
    });
    expect(asap.status, JSON.stringify(asap.body)).toBe(201);
    secrets.push(asap.body.cancelToken as string);
    const desk = await waitFor('the asap callback on the desk', async () => {
      const r = await call(api.baseUrl, 'POST', '/v1/agents/me/next', { headers: asAgent });
      return r.status === 200 && r.body.reference === asap.body.reference ? r.body : undefined;
    });
    expect(desk.subject).toBe(SUBJECT);
    const outcome = await call(
      api.baseUrl,
      'POST',
      `/v1/callbacks/${asap.body.reference as string}/outcome`,
      {
        headers: asAgent,
        body: { outcome: 'no_answer', note: NOTE },
      },
    );
    expect(outcome.status, JSON.stringify(outcome.body)).toBe(200);
    expect((await call(api.baseUrl, 'GET', '/v1/queue', { headers: asOps })).status).toBe(200);

    expect(await stopChild(api)).toBe(0);
    expect(await stopChild(worker)).toBe(0);
    const logs = api.output() + worker.output();
    expect(logs, 'the run logged at debug level').toMatch(/"level":20/);
    const stored =
      backend === 'redis'
        ? await dumpRedis(TEST_REDIS_URL, [`${stack.prefix}:*`, 'rappel:rl:*'])
        : await dumpTables(sql, BULLMQ_TABLES);
    expect(stored, 'the queue holds the run’s jobs').toMatch(/window-due/);
    const outbox = await dumpTables(sql, ['outbox']);
    expect(outbox).toMatch(/window-due/);
    expect(phonePattern('612345678').test('tel. +33 (0)6 12-34-56.78'), 'the pattern finds any writing').toBe(
      true,
    );

    for (const [what, text] of [
      ['logs', logs],
      ['queue', stored],
      ['outbox', outbox],
    ] as const) {
      for (const p of PHONES) expect(text, `${what}: phone ${p.writing}`).not.toMatch(phonePattern(p.digits));
      expect(text, `${what}: subject`).not.toContain('Quastelbaum');
      expect(text, `${what}: note`).not.toContain('messagerie');
      for (const s of secrets) expect(text, `${what}: a token`).not.toContain(s);
    }
  });
});
