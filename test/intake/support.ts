import { randomInt } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { DateTime } from 'luxon';
import {
  createTestDatabase,
  NO_LIMITS,
  startTestApp,
  type Backend,
  type TestContext,
} from '../support/runtime.js';
import { booking } from '../support/api.js';

/** The contract's table of error codes and their HTTP status (CONTRACT.md, last section). */
export const CONTRACT_CODES: Readonly<Record<string, number>> = {
  VALIDATION_ERROR: 400,
  INVALID_PHONE: 422,
  CENTRE_CLOSED: 422,
  OUTSIDE_OPENING_HOURS: 422,
  SLOT_NOT_AVAILABLE: 422,
  SLOT_FULL: 409,
  ASAP_UNAVAILABLE: 409,
  DUPLICATE_REQUEST: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_KEY_IN_USE: 409,
  CLOSURE_HAS_BOOKINGS: 409,
  INVALID_TRANSITION: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
};

export { NO_LIMITS };

export interface Fixture {
  readonly url: string;
  /** The test's own connection to the test database, for set-up and checks behind the API. */
  readonly sql: pg.Pool;
  /** A fresh app on the file's (emptied) database; closed after the test. */
  start(backend: Backend, opts?: { now?: string; env?: Record<string, string> }): Promise<TestContext>;
}

const TABLES =
  'callback_events, callbacks, outbox, idempotency_keys, window_load, agents, closures, rate_limits';

/** One database per file, emptied before each test; each test's apps closed after it. */
export function intakeFixture(): Fixture {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let pool: pg.Pool | undefined;
  const open: TestContext[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
  });
  beforeEach(async () => {
    await pool!.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`);
  });
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  return {
    get url() {
      return db!.url;
    },
    get sql() {
      return pool!;
    },
    async start(backend, opts = {}) {
      const t = await startTestApp(db!.url, backend, {
        ...(opts.now ? { now: opts.now } : {}),
        env: { ...NO_LIMITS, ...opts.env },
      });
      open.push(t);
      return t;
    },
  };
}

/** A valid mobile number no other test run is likely to use (matters for limits kept in Redis). */
export function randomPhone(): string {
  // 061… is mainland mobile throughout (some 063…/069… are overseas, some 07… unallocated).
  return `061${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
}

/** `n` distinct such numbers. */
export function randomPhones(n: number): string[] {
  const base = randomInt(0, 10_000_000);
  return Array.from({ length: n }, (_, i) => `061${String((base + i) % 10_000_000).padStart(7, '0')}`);
}

export function paris(iso: string): DateTime {
  return DateTime.fromISO(iso, { setZone: true });
}

export function postCallback(
  app: FastifyInstance,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return app.inject({ method: 'POST', url: '/v1/callbacks', payload: body, headers });
}

/** Books a callback that must succeed; returns the 201 body. */
export async function book(app: FastifyInstance, overrides: Record<string, unknown> = {}) {
  const res = await postCallback(app, booking(overrides));
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as {
    id: string;
    reference: string;
    status: string;
    window: { start: string; end: string };
    cancelToken: string;
  };
}

/** Checks a problem+json answer against the contract's table; returns its body. */
export function expectProblem(res: LightMyRequestResponse, code: string): Record<string, unknown> {
  expect(CONTRACT_CODES[code], `${code} is a contract code`).toBeDefined();
  expect(res.statusCode, res.body).toBe(CONTRACT_CODES[code]);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ code, status: CONTRACT_CODES[code] });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(typeof body.type).toBe('string');
  return body;
}

export interface RowCounts {
  callbacks: number;
  callback_events: number;
  outbox: number;
  idempotency_keys: number;
  window_load: number;
  booked: number;
}

/** What a refused request must leave untouched. */
export async function rowCounts(sql: pg.Pool): Promise<RowCounts> {
  const { rows } = await sql.query<Record<keyof RowCounts, string>>(`SELECT
    (SELECT count(*) FROM callbacks) AS callbacks,
    (SELECT count(*) FROM callback_events) AS callback_events,
    (SELECT count(*) FROM outbox) AS outbox,
    (SELECT count(*) FROM idempotency_keys) AS idempotency_keys,
    (SELECT count(*) FROM window_load) AS window_load,
    (SELECT coalesce(sum(booked), 0) FROM window_load) AS booked`);
  const r = rows[0]!;
  return {
    callbacks: Number(r.callbacks),
    callback_events: Number(r.callback_events),
    outbox: Number(r.outbox),
    idempotency_keys: Number(r.idempotency_keys),
    window_load: Number(r.window_load),
    booked: Number(r.booked),
  };
}

export async function bookedIn(sql: pg.Pool, domain: string, windowStart: string): Promise<number> {
  const { rows } = await sql.query<{ booked: number }>(
    'SELECT booked FROM window_load WHERE domain = $1 AND window_start = $2',
    [domain, windowStart],
  );
  return rows[0]?.booked ?? 0;
}

/** What the database says about one window of a domain: its active callbacks and its load. */
export async function windowTruth(sql: pg.Pool, domain: string, windowStart: string) {
  const { rows } = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM callbacks
      WHERE domain = $1 AND window_start = $2 AND status IN ('scheduled', 'queued', 'assigned')`,
    [domain, windowStart],
  );
  return { callbacks: rows[0]!.n, booked: await bookedIn(sql, domain, windowStart) };
}

export async function callbackRow(sql: pg.Pool, reference: string) {
  const { rows } = await sql.query<{
    id: string;
    status: string;
    phone: string;
    phone_region: string;
    mode: string;
    window_start: Date;
    window_end: Date;
    due_at: Date;
    queued_at: Date | null;
  }>(
    `SELECT id, status, phone, phone_region, mode, window_start, window_end, due_at, queued_at
       FROM callbacks WHERE reference = $1`,
    [reference],
  );
  return rows[0];
}

/** Ops set closures; the closure API is not this suite's subject, so the row is written directly. */
export async function addClosure(sql: pg.Pool, date: string, span?: { start: string; end: string }) {
  await sql.query(
    `INSERT INTO closures (id, date, start_time, end_time, reason, created_at)
     VALUES (gen_random_uuid(), $1, $2, $3, 'Inventaire', now())`,
    [date, span?.start ?? null, span?.end ?? null],
  );
}

/** GET /v1/slots for a domain, as the refusals' nextSlots must agree with it. */
export async function bookableSlots(app: FastifyInstance, domain = 'travail') {
  const res = await app.inject(`/v1/slots?domain=${domain}`);
  expect(res.statusCode).toBe(200);
  return (res.json() as { slots: { start: string; end: string; remaining: number }[] }).slots;
}

/** nextSlots: at most 3, each one of the first bookable windows, none of them the refused one. */
export async function expectNextSlots(
  app: FastifyInstance,
  problem: Record<string, unknown>,
  opts: { domain?: string; refused?: string; expectSome?: boolean } = {},
) {
  expect(Array.isArray(problem.nextSlots), 'nextSlots is a list').toBe(true);
  const next = problem.nextSlots as { start: string; end: string }[];
  expect(next.length).toBeLessThanOrEqual(3);
  if (opts.expectSome !== false) expect(next.length).toBeGreaterThan(0);
  const slots = await bookableSlots(app, opts.domain);
  expect(next).toEqual(slots.slice(0, 3).map((s) => ({ start: s.start, end: s.end })));
  if (opts.refused) expect(next.map((s) => s.start)).not.toContain(opts.refused);
}
