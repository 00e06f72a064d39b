import fc from 'fast-check';
import pg from 'pg';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext } from '../support/runtime.js';
import { AppError } from '../../src/http/errors.js';
import { openIntervalAt } from '../../src/domain/calendar/index.js';
import { calendarSettingsOf } from '../../src/services/core.js';
import { callbackRows, checkInvariants, syncDispatch } from './support/model-checks.js';
import {
  AGENT_DOMAINS,
  BOOK_DOMAINS,
  LEASE_MINUTES,
  MAX_ATTEMPTS,
  Model,
  PHONES,
  START,
  WINDOWS,
  opArb,
  type Op,
} from './support/model.js';

const RUNS = Number(process.env.FAULTS_MODEL_RUNS ?? 30);
/** What the random sequences actually exercised (printed at the end: a test that never reaches
 * a lease expiry or a retry proves little). */
const seen: Record<string, number> = {};
const saw = (what: string) => {
  seen[what] = (seen[what] ?? 0) + 1;
};

/**
 * Scenario 7, model-based: random sequences of booking, cancelling, pulling, reporting outcomes,
 * letting leases expire, delivering due and dispatch jobs twice and reconciling, on the real
 * services and database (in-process, manual clock). After every step the database must agree
 * with a model of what the contract promises, and the invariants must hold: capacity, window
 * counters, one desk per callback and one callback per desk, nothing lost, one event per change.
 */
describe('model-based: random operation sequences keep the invariants', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let t: TestContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
    t = await startTestApp(db.url, 'postgres', {
      now: START,
      env: {
        MIN_NOTICE_MINUTES: '0',
        CALLBACKS_PER_AGENT_PER_SLOT: '1',
        ASSIGNMENT_TIMEOUT_MINUTES: String(LEASE_MINUTES),
        MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        RATE_LIMIT_PER_IP_PER_MINUTE: '0',
        RATE_LIMIT_PER_PHONE_PER_DAY: '0',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sql?.end();
    await db?.drop();
  });

  const codeOf = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (err: unknown) => {
        if (err instanceof AppError) return err.code;
        throw err;
      },
    );

  async function reset(): Promise<Model> {
    await sql.query(
      'TRUNCATE callback_events, callbacks, outbox, idempotency_keys, window_load, agents, rate_limits CASCADE',
    );
    t.clock.set(DateTime.fromISO(START, { setZone: true }));
    const m = new Model();
    for (const domains of AGENT_DOMAINS) {
      const a = await t.rt.services.agents.create('Informateur', domains);
      m.agents.push({ id: a.id, domains: a.domains, status: a.status });
    }
    return m;
  }

  /** Applies one operation to the services and to the model. */
  async function step(m: Model, op: Op): Promise<void> {
    const s = t.rt.services;
    const now = () => t.clock.now().toMillis();
    switch (op.kind) {
      case 'book': {
        const domain = BOOK_DOMAINS[op.domain]!;
        const start = WINDOWS[op.window]!;
        const expected =
          start.toMillis() < now()
            ? 'SLOT_NOT_AVAILABLE'
            : m.activeFor(op.phone, domain)
              ? 'DUPLICATE_REQUEST'
              : m.holding(domain, start.toMillis()) >= m.capacity(domain)
                ? 'SLOT_FULL'
                : 'ok';
        let created: Awaited<ReturnType<typeof s.intake.create>> | undefined;
        const req = {
          domain,
          phone: PHONES[op.phone]!,
          mode: 'slot' as const,
          slotStart: start.toISO()!,
          consent: true,
        };
        const code = await codeOf(s.intake.create(req, undefined).then((r) => (created = r)));
        expect(code, `book ${domain} ${start.toISO()} phone ${op.phone}`).toBe(expected);
        saw(`book:${code}`);
        if (created) {
          const b = created.body;
          m.callbacks.push({
            id: b.id,
            reference: b.reference,
            cancelToken: b.cancelToken,
            domain,
            windowStart: start.toMillis(),
            phone: op.phone,
            status: 'scheduled',
            attempts: 0,
            dueAt: start.toMillis(),
            carriedOver: false,
            agent: null,
            heldBy: new Set(),
            leaseUntil: null,
            events: { created: 1 },
          });
        }
        return;
      }
      case 'cancel': {
        const c = m.pick(op.pick);
        if (!c) return;
        const code = await codeOf(s.callbackAccess.cancel(c.reference, c.cancelToken));
        const mayCancel = c.status === 'scheduled' || c.status === 'queued' || c.status === 'cancelled';
        expect(code, `cancel ${c.reference} (${c.status})`).toBe(mayCancel ? 'ok' : 'INVALID_TRANSITION');
        if (c.status !== 'cancelled' && mayCancel) {
          c.status = 'cancelled';
          m.count(c, 'cancelled');
        }
        return;
      }
      case 'pull': {
        const agent = m.agents[op.agent]!;
        const desk = m.deskOf(agent.id);
        const got = await s.dispatch.pullNext(agent.id);
        agent.status = 'available';
        if (desk) {
          expect(got?.reference, 'the same callback while unfinished').toBe(desk.reference);
          return;
        }
        m.queueDue(now(), agent.domains);
        const waiting = m.callbacks
          .filter((c) => c.status === 'queued' && agent.domains.includes(c.domain))
          .sort(Model.compare);
        if (waiting.length === 0) {
          expect(got, 'nothing to pull').toBeNull();
          return;
        }
        const claimed = m.callbacks.find((c) => c.reference === got?.reference);
        expect(
          claimed && waiting.includes(claimed) && Model.compare(claimed, waiting[0]!) === 0,
          'head of the queue',
        ).toBe(true);
        m.assign(claimed!, agent.id, now());
        saw('pull:claimed');
        return;
      }
      case 'outcome': {
        const busy = m.agents.filter((a) => m.deskOf(a.id));
        const agent = op.ownDesk && busy.length > 0 ? busy[op.agent % busy.length]! : m.agents[op.agent]!;
        const desk = m.deskOf(agent.id);
        const target = desk ?? m.pick(0);
        if (!target) return;
        let view: Awaited<ReturnType<typeof s.dispatch.reportOutcome>> | undefined;
        const redirectedTo = op.outcome === 'redirected' ? 'ADIL de la Moselle' : undefined;
        const code = await codeOf(
          s.dispatch
            .reportOutcome(agent.id, target.reference, op.outcome, redirectedTo, undefined)
            .then((v) => (view = v)),
        );
        if (!desk) {
          // Told the state only of a callback they were given once; anyone else's is forbidden.
          expect(code).toBe(
            target.status !== 'assigned' && target.heldBy.has(agent.id) ? 'INVALID_TRANSITION' : 'FORBIDDEN',
          );
          saw(`outcome-refused:${code}`);
          return;
        }
        expect(code).toBe('ok');
        agent.freedAt = Date.now();
        saw(`outcome:${op.outcome}`);
        desk.attempts += 1;
        desk.agent = null;
        desk.leaseUntil = null;
        desk.carriedOver = false;
        m.count(desk, 'outcome');
        if (op.outcome === 'reached' || op.outcome === 'redirected') desk.status = 'completed';
        else if (op.outcome === 'wrong_number' || desk.attempts >= MAX_ATTEMPTS) desk.status = 'failed';
        else {
          desk.status = 'scheduled';
          desk.dueAt = Date.parse(view!.nextAttemptAt!);
          saw('outcome:retry-scheduled');
          expect(desk.dueAt).toBeGreaterThanOrEqual(now() + 15 * 60_000);
        }
        return;
      }
      case 'advance':
        t.clock.advance({ minutes: op.minutes });
        return;
      case 'dueTwice': {
        const c = m.pick(op.pick);
        if (!c) return;
        await s.callbacks.markDue(c.id);
        await s.callbacks.markDue(c.id);
        if (c.status === 'scheduled' && c.dueAt <= now()) {
          c.status = 'queued';
          m.count(c, 'queued');
        }
        return;
      }
      case 'dispatchTwice': {
        const domain = BOOK_DOMAINS[op.domain]!;
        const startedAt = Date.now();
        await s.dispatch.dispatchDomain(domain);
        await s.dispatch.dispatchDomain(domain);
        await syncDispatch(sql, m, [domain], now(), startedAt);
        return;
      }
      case 'leaseExpiry':
      case 'reconcile': {
        if (op.kind === 'leaseExpiry') t.clock.advance({ minutes: LEASE_MINUTES + 1 });
        const startedAt = Date.now();
        await s.reconciler.sweep();
        m.queueDue(now());
        const leased = m.callbacks.filter((c) => c.status === 'assigned').length;
        m.releaseLeases(now());
        if (m.callbacks.filter((c) => c.status === 'assigned').length < leased) saw('lease:expired');
        const open = openIntervalAt(t.clock.now(), calendarSettingsOf(t.rt.config), []);
        if (!open) m.carryOver();
        await syncDispatch(sql, m, [...BOOK_DOMAINS], now(), startedAt);
        return;
      }
    }
  }

  it('holds after every step of random sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 30, size: 'max' }), async (ops) => {
        const m = await reset();
        for (const [i, op] of ops.entries()) {
          try {
            await step(m, op);
            await checkInvariants(sql, m);
          } catch (err) {
            const rows = await callbackRows(sql);
            throw new Error(
              `step ${i} ${JSON.stringify(op)} at ${t.clock.now().toISO()}: ${(err as Error).message}\n` +
                `db: ${JSON.stringify([...rows.values()])}`,
            );
          }
        }
      }),
      {
        numRuns: RUNS,
        endOnFailure: false,
        // Besides the random sequences, one that surely reaches a retry and a lease expiry, so
        // the coverage checks below never depend on the draw.
        examples: [
          [
            [
              { kind: 'book', domain: 0, window: 0, phone: 0 },
              { kind: 'pull', agent: 0 },
              { kind: 'outcome', agent: 0, ownDesk: true, outcome: 'no_answer' },
              { kind: 'book', domain: 0, window: 0, phone: 1 },
              { kind: 'pull', agent: 1 },
              { kind: 'leaseExpiry' },
              { kind: 'reconcile' },
            ],
          ],
        ],
      },
    );
    console.log('model-based: operations exercised', seen);
    expect(seen['lease:expired'] ?? 0).toBeGreaterThan(0);
    expect(seen['outcome:retry-scheduled'] ?? 0).toBeGreaterThan(0);
  });
});
