import pg from 'pg';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { booking, createAgent, ops, setStatus } from './support/api.js';
import { pull } from './support/desk.js';

const NOW = '2026-11-23T09:00:00+01:00'; // a Monday, the centre is open
const SLOT = '2026-11-23T10:00:00+01:00';
const LATER = '2026-11-23T11:00:00+01:00';

/** What the cases need: who may call the agent routes, and callbacks to act on. */
interface Ctx {
  agent: { id: string; token: string };
  other: { id: string; token: string };
  booked: { reference: string; cancelToken: string };
  assigned: string;
}

/**
 * A JSON body whose field has the wrong JSON type, on every route that takes a body. Each one
 * was accepted while bodies were coerced like query strings (the number became a string, the
 * string a boolean, the lone value a one-item array and the one-item array its value…), so each
 * would have written something.
 */
const CASES: [string, string, (c: Ctx) => InjectOptions][] = [
  // POST /v1/callbacks
  ['booking: number for the string phone', 'phone', () => callback({ phone: 612345678 })],
  ['booking: string for the boolean consent', 'consent', () => callback({ consent: 'true' })],
  ['booking: array for the string subject', 'subject', () => callback({ subject: ['Préavis'] })],
  // POST /v1/callbacks/{reference}/cancel
  ['cancel: number for the string token', 'cancelToken', (c) => cancel(c, 123)],
  ['cancel: array holding the right token', 'cancelToken', (c) => cancel(c, [c.booked.cancelToken])],
  // POST /v1/agents
  ['new agent: number for the string name', 'displayName', () => newAgent({ displayName: 123 })],
  ['new agent: array for the string name', 'displayName', () => newAgent({ displayName: ['Zoé'] })],
  ['new agent: string for the array of domains', 'domains', () => newAgent({ domains: 'travail' })],
  // PATCH /v1/agents/{id}
  ['agent update: string for the boolean active', 'active', (c) => patchAgent(c, { active: 'false' })],
  ['agent update: number for the boolean active', 'active', (c) => patchAgent(c, { active: 0 })],
  ['agent update: string for the array of domains', 'domains', (c) => patchAgent(c, { domains: 'logement' })],
  ['agent update: number for the string name', 'displayName', (c) => patchAgent(c, { displayName: 7 })],
  // PUT /v1/agents/me/status
  ['own status: array for the string status', 'status', (c) => myStatus(c, ['paused'])],
  // POST /v1/closures
  ['closure: string for the boolean moveBookings', 'moveBookings', () => closure({ moveBookings: 'true' })],
  ['closure: number for the boolean moveBookings', 'moveBookings', () => closure({ moveBookings: 1 })],
  ['closure: number for the string reason', 'reason', () => closure({ reason: 42 })],
  ['closure: array for the string date', 'date', () => closure({ date: ['2026-12-01'] })],
  // POST /v1/callbacks/{reference}/outcome
  ['outcome: array for the string outcome', 'outcome', (c) => report(c, { outcome: ['reached'] })],
  ['outcome: number for the string note', 'note', (c) => report(c, { outcome: 'reached', note: 12345 })],
  ['outcome: null for the string note', 'note', (c) => report(c, { outcome: 'reached', note: null })],
  [
    'outcome: number for the string redirectedTo',
    'redirectedTo',
    (c) => report(c, { outcome: 'redirected', redirectedTo: 33123456789 }),
  ],
];

function callback(fields: Record<string, unknown>): InjectOptions {
  return { method: 'POST', url: '/v1/callbacks', payload: booking({ slotStart: LATER, ...fields }) };
}
function cancel(c: Ctx, cancelToken: unknown): InjectOptions {
  return { method: 'POST', url: `/v1/callbacks/${c.booked.reference}/cancel`, payload: { cancelToken } };
}
function newAgent(fields: Record<string, unknown>): InjectOptions {
  const payload = { displayName: 'Zoé', domains: ['travail'], ...fields };
  return { method: 'POST', url: '/v1/agents', headers: ops, payload };
}
function patchAgent(c: Ctx, payload: Record<string, unknown>): InjectOptions {
  return { method: 'PATCH', url: `/v1/agents/${c.other.id}`, headers: ops, payload };
}
function myStatus(c: Ctx, status: unknown): InjectOptions {
  const headers = { authorization: `Bearer ${c.agent.token}` };
  return { method: 'PUT', url: '/v1/agents/me/status', headers, payload: { status } };
}
function closure(fields: Record<string, unknown>): InjectOptions {
  const payload = { date: '2026-12-01', reason: 'Inventaire', ...fields };
  return { method: 'POST', url: '/v1/closures', headers: ops, payload };
}
function report(c: Ctx, payload: Record<string, unknown>): InjectOptions {
  const headers = { authorization: `Bearer ${c.agent.token}` };
  return { method: 'POST', url: `/v1/callbacks/${c.assigned}/outcome`, headers, payload };
}

const TABLES = ['agents', 'closures', 'callbacks', 'callback_events', 'window_load', 'idempotency_keys'];

/** Every row the API writes (the outbox by identity only: its sent marks are flushed in the background). */
async function snapshot(sql: pg.Pool): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const table of [...TABLES, 'outbox']) {
    const rows = table === 'outbox' ? 'SELECT id, job_name, job_id FROM outbox' : `SELECT * FROM ${table}`;
    const { rows: r } = await sql.query<{ j: unknown }>(
      `SELECT coalesce(json_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]'::json) AS j FROM (${rows}) t`,
    );
    out[table] = r[0]!.j;
  }
  return out;
}

describe('JSON bodies carry the JSON types their schema declares (no coercion)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let t: TestContext;
  let ctx: Ctx;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    t = await startTestApp(db.url, 'postgres', {
      now: NOW,
      env: NO_LIMITS,
    });
    const agent = await createAgent(t.app, ['travail'], 'Inès');
    const other = await createAgent(t.app, ['travail', 'justice'], 'Paul');
    await setStatus(t.app, agent.token, 'available');
    const slot = await t.app.inject(callback({ slotStart: SLOT }));
    expect(slot.statusCode, slot.body).toBe(201);
    const asap = await t.app.inject(callback({ mode: 'asap', slotStart: undefined }));
    expect(asap.statusCode, asap.body).toBe(201);
    const pulled = await pull(t.app, agent.token);
    expect(pulled?.reference).toBe(asap.json().reference);
    ctx = { agent, other, booked: slot.json(), assigned: asap.json().reference };
  });
  afterAll(async () => {
    await t?.close();
    await sql?.end();
    await db?.drop();
  });

  it.each(CASES)('%s: 400 VALIDATION_ERROR naming « %s », nothing written', async (_name, field, request) => {
    const before = await snapshot(sql);
    const res = await t.app.inject(request(ctx));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const problem = res.json();
    expect(problem).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
    expect(problem.detail).toContain(`« ${field} »`);
    expect(problem.detail).toContain('corps de la requête');
    expect(await snapshot(sql)).toEqual(before);
  });

  it('says in French which JSON type was expected', async () => {
    const res = await t.app.inject(closure({ moveBookings: 'true' }));
    expect(res.json().detail).toBe(
      'Champ « moveBookings » non valide (corps de la requête) : doit être un booléen (true ou false).',
    );
    const token = await t.app.inject(cancel(ctx, 123));
    expect(token.json().detail).toBe(
      'Champ « cancelToken » non valide (corps de la requête) : doit être une chaîne de caractères.',
    );
    const domains = await t.app.inject(newAgent({ domains: 'travail' }));
    expect(domains.json().detail).toBe(
      'Champ « domains » non valide (corps de la requête) : doit être un tableau.',
    );
  });

  it('says which format a value that does not match its pattern should have', async () => {
    const details = await Promise.all(
      [
        closure({ start: '8h30', end: '10:00' }),
        closure({ date: '23/11/2026' }),
        closure({ reason: '   ' }),
        callback({ ficheId: 'fiche-12' }),
        { url: '/v1/callbacks?from=23/11/2026', headers: ops },
      ].map(async (request) => (await t.app.inject(request)).json().detail as string),
    );
    expect(details).toEqual([
      'Champ « start » non valide (corps de la requête) : heure au format HH:mm attendue (ex. 08:30).',
      'Champ « date » non valide (corps de la requête) : date au format AAAA-MM-JJ attendue (ex. 2026-11-23).',
      'Champ « reason » non valide (corps de la requête) : au moins un caractère autre qu’une espace.',
      'Champ « ficheId » non valide (corps de la requête) : identifiant de fiche service-public attendu : F, N ou R suivi de 1 à 6 chiffres (ex. F2258).',
      "Champ « from » non valide (paramètres de l'adresse) : date au format AAAA-MM-JJ attendue (ex. 2026-11-23).",
    ]);
  });

  it('still coerces query strings: days=14 and limit=1 are numbers', async () => {
    const hours = await t.app.inject('/v1/opening-hours?from=2026-11-23&days=14');
    expect(hours.statusCode, hours.body).toBe(200);
    expect(hours.json().days).toHaveLength(14);
    const slots = await t.app.inject('/v1/slots?domain=travail&days=14');
    expect(slots.statusCode, slots.body).toBe(200);
    expect(slots.json().slots.length).toBeGreaterThan(0);
    const list = await t.app.inject({ url: '/v1/callbacks?limit=1', headers: ops });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(list.json().nextCursor).not.toBeNull();
    const bad = await t.app.inject('/v1/opening-hours?days=quatorze');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_ERROR');
  });

  it('still accepts the same bodies with the right JSON types', async () => {
    expect((await t.app.inject(newAgent({}))).statusCode).toBe(201);
    const patched = await t.app.inject(patchAgent(ctx, { active: false, domains: ['logement'] }));
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ active: false, domains: ['logement'] });
    const closed = await t.app.inject(closure({ moveBookings: true }));
    expect(closed.statusCode, closed.body).toBe(201);
    const reported = await t.app.inject(report(ctx, { outcome: 'reached', note: 'Rappelé' }));
    expect(reported.statusCode, reported.body).toBe(200);
    expect(reported.json().status).toBe('completed');
    const cancelled = await t.app.inject(cancel(ctx, ctx.booked.cancelToken));
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json().status).toBe('cancelled');
    const status = await t.app.inject(myStatus(ctx, 'paused'));
    expect(status.statusCode, status.body).toBe(200);
    expect(status.json().status).toBe('paused');
  });
});
