import pg from 'pg';
import { BENCH_DB, benchDatabaseUrl, PG_ADMIN_URL } from './settings.js';

/**
 * The benchmark's own database, created fresh each run (the service migrates it at start), with
 * pg_walinspect where the server has it (the pages each load writes whole, see observe.ts).
 */
export async function recreateDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
  const bench = new pg.Client({ connectionString: benchDatabaseUrl() });
  await bench.connect();
  try {
    await bench.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect').catch(() => undefined);
  } finally {
    await bench.end();
  }
}

export function benchPool(max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: benchDatabaseUrl(), max, application_name: 'rappel-bench' });
  pool.on('error', () => undefined);
  return pool;
}

const ALPHABET = '346789ABCDEFGHJKMNPQRTVWXY';
/** A valid reference (RAP- and six letters of the reference alphabet) for each n < 26^6. */
const ref = (n: string) =>
  `'RAP-' || ${[5, 4, 3, 2, 1, 0]
    .map((k) => `substr('${ALPHABET}', ((${n} / ${26 ** k}) % 26)::int + 1, 1)`)
    .join(' || ')}`;
/** Seeded phones are +33 6 1x xx xx xx (n < 10^7); the load generators never use 061. */
const phone = (n: string) => `'+3361' || lpad((${n} % 10000000)::text, 7, '0')`;
const COLUMNS = `id, reference, domain, mode, status, phone, phone_region, fiche_id, subject, window_start,
  window_end, due_at, queued_at, attempts, carried_over, outcome, redirected_to, cancel_token_hash,
  created_at, updated_at, ended_at, anonymised_at`;
/**
 * A seeded callback's id as the service makes them (`src/db/ids.ts`, UUID version 7): its
 * creation millisecond, then random bits, so seeded ids sort by creation as production's do.
 */
const idCreatedAt = (t: string) =>
  `(lpad(to_hex((extract(epoch FROM ${t}) * 1000)::bigint), 12, '0') || '7' ||
    substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid`;
const DOMAINS = `(ARRAY['travail','interieur','justice','logement'])[1 + (n % 4)::int]`;

/**
 * Queued callbacks, due within the hour before `now`, for pull next. Seed numbers [from, from+count).
 * Each was booked at some time in the 14 days before (scattered, not in queue order: a window's
 * bookings come in over days, mixed with other windows'), which its time-ordered id carries.
 */
export async function seedQueued(pool: pg.Pool, from: number, count: number, now: string, domain: string) {
  await pool.query(
    `INSERT INTO callbacks (${COLUMNS})
     SELECT ${idCreatedAt('c')}, ${ref('n')}, $3, 'slot', 'queued', ${phone('n')}, 'FR', 'F2258', 'bench', t,
       t + interval '30 minutes', t, t, 0, false, NULL, NULL, decode(md5(n::text), 'hex'), c, t,
       NULL, NULL
     FROM generate_series($1::bigint, $2::bigint) AS n
     CROSS JOIN LATERAL (SELECT $4::timestamptz - (n % 3600) * interval '1 second' AS t) AS x
     CROSS JOIN LATERAL (SELECT t - interval '1 hour' - ((n * 7919) % 1209600) * interval '1 second' AS c) AS y
     ON CONFLICT DO NOTHING`,
    [from, from + count - 1, domain, now],
  );
  // Their windows' booked counts, as their bookings would have left them: the tables as
  // production has them when the informateurs call (an outcome used to write these rows).
  await pool.query(
    `INSERT INTO window_load (domain, window_start, booked)
     SELECT domain, window_start, count(*) FROM callbacks WHERE status = 'queued' AND attempts = 0 AND mode = 'slot'
     GROUP BY 1, 2
     ON CONFLICT (domain, window_start) DO UPDATE SET booked = EXCLUDED.booked`,
  );
}

/** Scheduled callbacks booked in the given windows (all domains), with their events and window load. */
export async function seedScheduled(
  pool: pg.Pool,
  from: number,
  count: number,
  windows: string[],
  now: string,
) {
  await pool.query(
    `WITH ins AS (
       INSERT INTO callbacks (${COLUMNS})
       SELECT ${idCreatedAt('c')}, ${ref('n')}, ${DOMAINS}, 'slot', 'scheduled', ${phone('n')}, 'FR', NULL, NULL, w,
         w + interval '30 minutes', w, NULL, 0, false, NULL, NULL, decode(md5(n::text), 'hex'), c, c, NULL, NULL
       FROM generate_series($1::bigint, $2::bigint) AS n
       CROSS JOIN LATERAL (SELECT ($3::timestamptz[])[1 + (n % array_length($3::timestamptz[], 1))::int] AS w,
         $4::timestamptz - (n % 86400) * interval '1 second' AS c) AS x
       ON CONFLICT DO NOTHING
       RETURNING id, domain, window_start, created_at
     ), ev AS (
       INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at)
       SELECT id, 'created', NULL, 'scheduled', 'citizen', created_at FROM ins
     )
     INSERT INTO window_load AS w (domain, window_start, booked)
     SELECT domain, window_start, count(*) FROM ins GROUP BY 1, 2
     ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + EXCLUDED.booked`,
    [from, from + count - 1, windows, now],
  );
}

/**
 * Finished callbacks of the last 180 days (70 % completed, 20 % failed, 10 % cancelled), those
 * older than the 90-day retention already anonymised; two events each; their window load.
 */
export async function seedFinished(pool: pg.Pool, from: number, count: number, now: string) {
  await pool.query(
    `WITH ins AS (
       INSERT INTO callbacks (${COLUMNS})
       SELECT ${idCreatedAt(`t - interval '1 day'`)}, ${ref('n')}, ${DOMAINS}, CASE WHEN n % 5 = 0 THEN 'asap' ELSE 'slot' END, st,
         CASE WHEN anon THEN NULL ELSE ${phone('n')} END, 'FR', 'F2258', CASE WHEN anon THEN NULL ELSE 'bench' END,
         t, t + interval '30 minutes', t, t, CASE st WHEN 'cancelled' THEN 0 WHEN 'failed' THEN 3 ELSE 1 END,
         false, oc, CASE WHEN oc = 'redirected' THEN 'CAF' END, decode(md5(n::text), 'hex'), t - interval '1 day',
         t + interval '12 minutes', t + interval '12 minutes',
         CASE WHEN anon THEN t + interval '90 days 12 minutes' END
       FROM generate_series($1::bigint, $2::bigint) AS n
       CROSS JOIN LATERAL (SELECT date_trunc('hour', $3::timestamptz) - (n % 8640) * interval '30 minutes' AS t,
         CASE WHEN n % 20 < 14 THEN 'completed' WHEN n % 20 < 18 THEN 'failed' ELSE 'cancelled' END AS st) AS x
       CROSS JOIN LATERAL (SELECT t < $3::timestamptz - interval '90 days 12 minutes' AS anon,
         CASE WHEN st = 'completed' THEN CASE WHEN n % 7 = 0 THEN 'redirected' ELSE 'reached' END
              WHEN st = 'failed' THEN CASE WHEN n % 2 = 0 THEN 'unreachable' ELSE 'wrong_number' END END AS oc) AS y
       ON CONFLICT DO NOTHING
       RETURNING id, domain, mode, status, window_start, created_at, ended_at
     ), ev AS (
       INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at)
       SELECT id, 'created', NULL, 'scheduled', 'citizen', created_at FROM ins
       UNION ALL
       SELECT id, CASE status WHEN 'cancelled' THEN 'cancelled' ELSE 'outcome' END, 'assigned', status, 'system',
         ended_at FROM ins
     )
     INSERT INTO window_load AS w (domain, window_start, booked)
     SELECT domain, window_start, count(*) FROM ins WHERE mode = 'slot' AND status <> 'cancelled' GROUP BY 1, 2
     ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + EXCLUDED.booked`,
    [from, from + count - 1, now],
  );
}

const FINISH = `status = 'completed', outcome = 'reached', attempts = attempts + 1, assigned_agent_id = NULL,
  assigned_at = NULL, lease_expires_at = NULL, ended_at = $1, updated_at = $1`;

/** Desks emptied (what a load run left assigned is done), so the next run starts clean. */
export async function clearDesks(pool: pg.Pool, now: string): Promise<void> {
  await pool.query(`UPDATE callbacks SET ${FINISH} WHERE status = 'assigned'`, [now]);
}

/** Nothing left waiting: every active callback finished (before the dispatch-latency scenario). */
export async function finishActive(pool: pg.Pool, now: string): Promise<void> {
  await pool.query(`UPDATE callbacks SET ${FINISH} WHERE status IN ('scheduled', 'queued', 'assigned')`, [
    now,
  ]);
}

/** Offline informateurs get nothing pushed by the worker (the raw claim ceiling runs alone). */
export async function setAgentsStatus(pool: pg.Pool, status: 'offline' | 'available'): Promise<void> {
  await pool.query(`UPDATE agents SET status = $1, available_since = NULL`, [status]);
}

/**
 * Every measured phase starts from the same database state. Dead row versions out and new ones
 * marked visible in every table the hot paths write, as autovacuum would do in production: this
 * machine's PostgreSQL runs with autovacuum off (`conf.d/90-ci.conf`). Without it each phase met
 * the dead rows of all the phases before it (the queue and one-desk indexes, window loads, outbox
 * marks), and the first to read freshly seeded rows paid for their hint bits, so a phase's speed
 * depended on its place in the run. Then a checkpoint: a page's first change after one writes the
 * whole page to the WAL, so a phase measured while a checkpoint runs writes more than one measured
 * long after it. Without it, the 1M seed's WAL started a checkpoint that ran through both 1M
 * phases (122 s), while the small-table phases had none.
 */
export async function settleDatabase(pool: pg.Pool): Promise<void> {
  await pool.query(
    'VACUUM (ANALYZE) callbacks, callback_events, window_load, outbox, agents, idempotency_keys',
  );
  await pool.query('CHECKPOINT');
}

export async function countByStatus(pool: pg.Pool): Promise<Record<string, number>> {
  const r = await pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM callbacks GROUP BY status ORDER BY status',
  );
  return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
}

export async function tableSizesMb(pool: pg.Pool): Promise<Record<string, number>> {
  const r = await pool.query<{ t: string; mb: string }>(
    `SELECT t, round(pg_total_relation_size(t::regclass) / 1048576.0, 1) AS mb
     FROM unnest(ARRAY['callbacks', 'callback_events', 'window_load', 'outbox', 'idempotency_keys']) AS t`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.t, Number(x.mb)]));
}

export async function agentIds(pool: pg.Pool): Promise<string[]> {
  return (await pool.query<{ id: string }>('SELECT id FROM agents ORDER BY id')).rows.map((r) => r.id);
}

export async function serverVersions(pool: pg.Pool): Promise<{ postgres: string }> {
  const r = await pool.query<{ server_version: string }>('SHOW server_version');
  return { postgres: r.rows[0]?.server_version ?? '?' };
}
