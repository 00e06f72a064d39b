import { randomUUID } from 'node:crypto';
import { newId } from '../../src/db/ids.js';
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { DateTime } from 'luxon';
import { ZONE } from '../../src/domain/calendar/index.js';
import { createKysely } from '../../src/db/kysely.js';
import type { Db } from '../../src/db/schema.js';
import { countWaiting } from '../../src/repositories/callbacks.js';
import { bookCallback, readIntakeContext, type DecidedOn } from '../../src/repositories/intake.js';
import { CALENDAR_LOCK } from '../../src/repositories/closures.js';
import { queueIfDue } from '../../src/repositories/callbacks-due.js';
import { claimNext, releaseExpiredLeases } from '../../src/repositories/dispatch.js';
import { assignHeadToIdlest } from '../../src/repositories/push.js';
import { bookedInRange, takePlace } from '../../src/repositories/window-load.js';
import { countActiveInDomain } from '../../src/repositories/agents.js';
import type { ClaimSpec } from './specs.js';

/**
 * The statements are taken from the service's own repository functions, run through a Kysely
 * whose connection rewrites each statement: never a copy that could drift from src/.
 */
type Handler = (text: string, params: unknown[]) => Promise<unknown[]>;

function interceptingDb(client: pg.PoolClient | null, handler: Handler) {
  const connection = {
    async query(text: string, params: unknown[] = []) {
      if (/^\s*(begin|commit|rollback|savepoint|release)\b/i.test(text)) {
        if (client) await client.query(text);
        return { command: text.trim().split(/\s/)[0]!.toUpperCase(), rowCount: 0, rows: [] };
      }
      return { command: 'SELECT', rowCount: 0, rows: await handler(text, params) };
    },
    release() {},
  };
  return createKysely({ connect: async () => connection, end: async () => undefined } as unknown as pg.Pool);
}

/** The statement claimNext sends, with the role of each of its parameters. */
export async function captureClaimStatement(): Promise<Pick<ClaimSpec, 'sql' | 'params'>> {
  const AGENT = randomUUID();
  const NOW = new Date(1_000_000_000_000);
  const LEASE = new Date(1_000_000_600_000);
  const DOMAINS = ['captured-domain'];
  let captured: { text: string; params: unknown[] } | null = null;
  const db = interceptingDb(null, async (text, params) => {
    captured = { text, params };
    return [];
  });
  await claimNext(db, AGENT, DOMAINS, NOW, LEASE);
  await db.destroy();
  const c = captured as { text: string; params: unknown[] } | null;
  if (!c) throw new Error('claimNext sent no statement');
  const roles = c.params.map((p) => {
    if (p === AGENT) return 'agent' as const;
    if (p === DOMAINS) return 'domains' as const;
    if (p instanceof Date && p.getTime() === NOW.getTime()) return 'now' as const;
    if (p instanceof Date && p.getTime() === LEASE.getTime()) return 'lease' as const;
    throw new Error(
      `claimNext has a parameter the bench does not know (${String(p)}): update bench/lib/explain.ts`,
    );
  });
  return { sql: c.text, params: roles };
}

export interface ExplainInputs {
  now: Date;
  domain: string;
  windowStart: Date;
  windowLast: Date;
  capacity: number;
  /** A phone with an active callback in `domain`: the duplicate path of intake. */
  activePhone: string;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the hot statements, each in a transaction rolled back afterwards
 * (ANALYZE executes them), written to `file`.
 */
export async function explainHotStatements(pool: pg.Pool, x: ExplainInputs, file: string): Promise<void> {
  const client = await pool.connect();
  const out: string[] = [
    `# EXPLAIN (ANALYZE, BUFFERS) of Rappel's hot statements`,
    `# ${new Date().toISOString()}`,
  ];
  const counts = await client.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM callbacks GROUP BY 1 ORDER BY 1',
  );
  out.push(`# callbacks: ${counts.rows.map((r) => `${r.status}=${r.n}`).join(', ')}`, '');
  let label = '';
  // What an INSERT "returns" to the repository function: one row means it went in.
  let insertRows: unknown[] = [];
  const db = interceptingDb(client, async (text, params) => {
    if (/\brappel_book\(/.test(text)) return explainNested(client, label, text, params, out);
    const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
    out.push(
      `## ${label}`,
      '',
      text.replace(/\s+/g, ' ').trim(),
      '',
      ...plan.rows.map((r) => r['QUERY PLAN']),
      '',
    );
    return /^\s*insert/i.test(text) ? insertRows : [];
  });
  const agent = randomUUID();
  const cases: [string, (tx: Db) => Promise<unknown>][] = [
    ['claim (claimNext, pull next)', (tx) => claimNext(tx, agent, [x.domain], x.now, x.now)],
    [
      "intake's reads: closures of the day, staffing (readIntakeContext)",
      (tx) => readIntakeContext(tx, { date: '2026-11-23', domain: x.domain }),
    ],
    [
      'intake booking, new phone (bookCallback: the statements inside rappel_book)',
      async (tx) => bookCallback(tx, newBooking(x, '+33612399999', await decidedOnNow(client, x))),
    ],
    [
      'intake booking, duplicate phone: nothing written (bookCallback: the statements inside rappel_book)',
      async (tx) => bookCallback(tx, newBooking(x, x.activePhone, await decidedOnNow(client, x))),
    ],
    [
      'window_load upsert (takePlace, closure moves)',
      (tx) => takePlace(tx, x.domain, x.windowStart, x.capacity),
    ],
    [
      "slots' booked counts (bookedInRange)",
      (tx) => bookedInRange(tx, x.domain, x.windowStart, x.windowLast),
    ],
    ["slots' capacity (countActiveInDomain)", (tx) => countActiveInDomain(tx, x.domain)],
    ["reconciler's queueIfDue (all domains, limit 1000)", (tx) => queueIfDue(tx, null, x.now)],
    [
      "pull next's promotion of overdue callbacks (queueIfDue, agent's domains, limit 200)",
      (tx) => queueIfDue(tx, null, x.now, 200, [x.domain]),
    ],
    ['releaseExpiredLeases', (tx) => releaseExpiredLeases(tx, x.now)],
    ['push dispatch (assignHeadToIdlest)', (tx) => assignHeadToIdlest(tx, x.domain, x.now, 30)],
    ['asap load estimate (countWaiting, capped at 50)', (tx) => countWaiting(tx, [x.domain], 50)],
  ];
  try {
    for (const [name, run] of cases) {
      label = name;
      insertRows = name.includes('duplicate') ? [] : [{ id: agent, booked: 1 }];
      await client.query('BEGIN');
      try {
        // The claim needs an informateur with an empty desk: one that exists only in this transaction.
        await client.query(
          `INSERT INTO agents (id, display_name, domains, status, token_hash, created_at, updated_at)
           VALUES ($1, 'explain', ARRAY[$2], 'available', $3, $4, $4)`,
          [agent, x.domain, Buffer.from(agent), x.now],
        );
        await run(db).catch(() => undefined); // the rows are plans, not what the function expects
      } finally {
        await client.query('ROLLBACK');
      }
    }
  } finally {
    client.release();
    await db.destroy();
  }
  writeFileSync(file, out.join('\n') + '\n');
}

/**
 * rappel_book is a plpgsql function: EXPLAIN of its call shows a Function Scan only. Its inner
 * statements are run for real (the transaction is rolled back) with auto_explain reporting each
 * plan to this client as a NOTICE.
 */
async function explainNested(
  client: pg.PoolClient,
  label: string,
  text: string,
  params: unknown[],
  out: string[],
): Promise<unknown[]> {
  const notices: string[] = [];
  const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
  client.on('notice', onNotice);
  try {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET LOCAL auto_explain.log_min_duration = 0`);
    await client.query(`SET LOCAL auto_explain.log_analyze = on`);
    await client.query(`SET LOCAL auto_explain.log_buffers = on`);
    await client.query(`SET LOCAL auto_explain.log_nested_statements = on`);
    await client.query(`SET LOCAL auto_explain.log_level = 'notice'`);
    const res = await client.query(text, params);
    out.push(`## ${label}`, '', text.replace(/\s+/g, ' ').trim(), '');
    out.push(`outcome: ${JSON.stringify(res.rows[0])}`, '', ...notices.flatMap((n) => [n, '']));
    return res.rows;
  } finally {
    client.off('notice', onNotice);
  }
}

/** What intake reads before booking (inside the case's transaction: its informateur counts). */
async function decidedOnNow(client: pg.PoolClient, x: ExplainInputs): Promise<DecidedOn> {
  const date = DateTime.fromJSDate(x.windowStart).setZone(ZONE).toISODate()!;
  const r = await client.query<{ md5: string; active: number }>(
    'SELECT rappel_closures_md5($1::date) AS md5, rappel_active_in_domain($2) AS active',
    [date, x.domain],
  );
  return { date, closuresMd5: r.rows[0]!.md5, activeInDomain: r.rows[0]!.active };
}

function newBooking(
  x: ExplainInputs,
  phone: string,
  decidedOn: DecidedOn,
): Parameters<typeof bookCallback>[1] {
  const id = newId(x.now.getTime());
  return {
    keyLock: null,
    calendarLock: CALENDAR_LOCK,
    decidedOn,
    callback: {
      id,
      reference: 'RAP-XXXXXX',
      domain: x.domain,
      mode: 'slot',
      status: 'scheduled',
      phone,
      phoneRegion: 'FR',
      ficheId: null,
      subject: null,
      windowStart: x.windowStart,
      windowEnd: new Date(x.windowStart.getTime() + 30 * 60_000),
      cancelTokenHash: Buffer.from('explain'),
    },
    capacity: x.capacity,
    event: { type: 'created', actor: 'citizen', data: { mode: 'slot' } },
    outbox: {
      jobName: 'callback-due',
      jobId: `due-${id}`,
      payload: { callbackId: id },
      runAt: x.windowStart,
    },
    idempotency: {
      key: `explain-${id}`,
      requestHash: Buffer.from('explain'),
      status: 201,
      body: {},
      expiresAt: x.now,
    },
    now: x.now,
  };
}
